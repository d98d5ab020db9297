// Bundles the front-end entry points into api/web/static/dist with esbuild.
// Nothing is fetched at run time: every asset is served from our own /static.
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "static", "dist");
mkdirSync(outdir, { recursive: true });

const entries = readdirSync(here).filter((name) => name.endsWith(".entry.js"));
await build({
  entryPoints: entries.map((name) => join(here, name)),
  outdir,
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "iife",
  target: ["chrome100"],
  entryNames: "[name]",
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file" },
  logLevel: "warning",
});

// bpmn-js stylesheets (diagram-js, bpmn-font) are copied as they are.
const modules = join(here, "..", "..", "..", "node_modules");
for (const [from, to] of [
  ["bpmn-js/dist/assets", "bpmn-js"],
]) {
  cpSync(join(modules, from), join(outdir, to), { recursive: true });
}
console.log(`built ${entries.length} bundle(s) into ${outdir}`);
