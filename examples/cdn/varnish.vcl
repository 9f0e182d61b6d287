# Varnish configuration for custom-cache-page's VarnishBackend (Varnish 7 + varnish-modules' xkey).
#
# - Responses are tagged by the application: VarnishBackend.prepareResponse adds an `xkey` header
#   (space-separated keys, possibly several header fields); the xkey vmod indexes every object by them.
# - A page whose keys would pass 16,000 bytes (varnishd answers 503 past http_resp_size, 32 KB of
#   headers, or http_resp_hdr_len, 8 KB a line) carries hash-bucket keys `ccp-b-<3 hex>` instead, and
#   every purge sends each key together with its bucket key: nothing to add here, xkey indexes them alike.
# - Purges: VarnishBackend sends `PURGE` with `xkey-purge: k1 k2` (or `xkey-softpurge`), accepted from
#   the `purgers` ACL only, and gets the number of purged objects back in `xkey-purged`.
# - Caching follows the application's Cache-Control (max-age / s-maxage; private, no-store and
#   no-cache are not cached), which is what Varnish's built-in VCL does after ours.
#
# Run:  varnishd -F -a 127.0.0.1:6081 -f "$PWD/examples/cdn/varnish.vcl" -s malloc,64m
# (edit the backend below to point at your application first).

vcl 4.1;

import xkey;

backend default {
    .host = "127.0.0.1";
    .port = "3000";
}

# Who may purge. Keep it to the machines that run the application.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "PURGE is not allowed from this address"));
        }
        if (req.http.xkey-purge) {
            set req.http.xkey-purged = xkey.purge(req.http.xkey-purge);
        } elsif (req.http.xkey-softpurge) {
            set req.http.xkey-purged = xkey.softpurge(req.http.xkey-softpurge);
        } else {
            return (synth(400, "PURGE needs an xkey-purge or xkey-softpurge header"));
        }
        return (synth(200, "Purged"));
    }
    # Everything else: Varnish's built-in vcl_recv (GET/HEAD cached, Authorization and Cookie passed).
}

sub vcl_synth {
    if (req.method == "PURGE" && req.http.xkey-purged) {
        # What VarnishBackend.invalidateBySurrogate(s) resolves with.
        set resp.http.xkey-purged = req.http.xkey-purged;
    }
}

sub vcl_deliver {
    # Says whether Varnish answered from its cache; the application's own X-Cache is left as is.
    if (obj.hits > 0) {
        set resp.http.X-Varnish-Cache = "HIT";
    } else {
        set resp.http.X-Varnish-Cache = "MISS";
    }
    # The tags are for Varnish only; browsers need not see them.
    unset resp.http.xkey;
}
