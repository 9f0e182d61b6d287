import { ArrayNotEmpty, IsArray, IsBoolean, IsDefined, IsInt, IsOptional, IsString, Matches, Min, ValidateBy } from "class-validator";
import { HTTP_TOKEN, isHttpUrl } from "../config/optionRules";
import { CdnBackendOptionsSchema } from "./cdn/purgeOptions";

/**
 * The options of {@link VarnishBackend}: what its constructor and `configureCachePage` both check.
 *
 * @example
 * { backend: "varnish", options: { urls: ["http://127.0.0.1:6081/"], softPurge: true } }
 */
export class VarnishBackendOptionsSchema extends CdnBackendOptionsSchema {
  @IsDefined({ message: 'urls is required: the URLs of your Varnish instances, e.g. ["http://127.0.0.1:6081/"]' })
  @IsArray({ message: "urls must be an array of URLs" })
  @ArrayNotEmpty({ message: "urls must name at least one Varnish instance" })
  @ValidateBy({
    name: "isHttpUrlList",
    validator: {
      validate: (value: unknown) => !Array.isArray(value) || value.every(isHttpUrl),
      defaultMessage: (args) => {
        const urls = Array.isArray(args?.value) ? (args.value as unknown[]) : [];
        const bad = urls.findIndex((url) => !isHttpUrl(url));
        return `each entry of urls must be an http:// or https:// URL, e.g. http://127.0.0.1:6081/ (urls[${bad}] is ${JSON.stringify(urls[bad]) ?? String(urls[bad])})`;
      },
    },
  })
  urls!: string[];

  @IsOptional()
  @IsString({ message: "header must be a string" })
  @Matches(HTTP_TOKEN, { message: 'header must be an HTTP header name, e.g. "xkey"' })
  header?: string;

  @IsOptional()
  @IsBoolean({ message: "softPurge must be true or false" })
  softPurge?: boolean;

  @IsOptional()
  @IsString({ message: "purgeMethod must be a string" })
  @Matches(HTTP_TOKEN, { message: 'purgeMethod must be an HTTP method name, e.g. "PURGE"' })
  purgeMethod?: string;

  @IsOptional()
  @IsString({ message: "purgedCountHeader must be a string" })
  @Matches(HTTP_TOKEN, { message: 'purgedCountHeader must be an HTTP header name, e.g. "xkey-purged"' })
  purgedCountHeader?: string;

  @IsOptional()
  @IsInt({ message: "batchSize must be a whole number of keys" })
  @Min(1, { message: "batchSize must be at least 1" })
  batchSize?: number;
}
