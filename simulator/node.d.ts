// The few Node APIs the simulator uses, declared here so it type-checks without @types/node
// (as examples/run.ts does); tsx runs it on the repository's Node 22.
declare const process: {
  argv: string[];
  env: Record<string, string | undefined>;
  exitCode?: number;
  stdout: { write(text: string): boolean; isTTY?: boolean; columns?: number };
  on(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  exit(code?: number): never;
};

declare module "node:fs/promises" {
  export function writeFile(path: string, data: string): Promise<void>;
}
