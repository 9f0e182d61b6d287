// The application the README and docs snippets talk about: its data layer and a few helpers. The
// snippets are type-checked by scripts/checkDocSnippets.ts with these declared, so they compile as
// written without each one carrying a fake database.
declare interface User {
  id: number;
  name: string;
}

declare interface Product {
  id: number;
  name: string;
  price: number;
}

declare const db: {
  products: {
    findAll(): Promise<Product[]>;
    find(id: number): Promise<Product | undefined>;
    update(id: number, changes: object): Promise<void>;
  };
};

/** Your logger (pino, winston...). */
declare const log: { warn(object: object, message: string): void; error(object: object, message: string): void };

/** Puts keys back on a queue of yours to purge again later. */
declare function queueRetry(keys: string[]): void;
