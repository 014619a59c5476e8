// Builds bot/static/widget/chuishao-widget.{js,css} from src/ (run by scripts/build-widget.sh).
// The bundle must not fetch anything from another host: web fonts in @chatui/core's CSS (Alibaba Sans
// on gw.alipayobjects.com) are dropped, and the build fails if a CDN address survives. Its html/body
// rules are dropped too: the widget lives inside someone else's page.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const out = new URL('../static/widget/', import.meta.url).pathname;
const CDN = /(fonts\.googleapis|fonts\.gstatic|alicdn\.com|alipayobjects\.com|jsdelivr|unpkg\.com|cdnjs)/;

// The sources' fingerprint, written into the bundle so a test can tell a stale committed build.
function sourceHash() {
  const hash = createHash('sha256');
  const files = ['package.json', 'package-lock.json', 'build.mjs'];
  for (const name of readdirSync('src').sort()) files.push(join('src', name));
  for (const file of files) if (statSync(file).isFile()) hash.update(file).update(readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

const dropRemoteFonts = {
  name: 'drop-remote-fonts',
  setup(b) {
    b.onLoad({ filter: /@chatui[\\/]core[\\/]dist[\\/]index\.css$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8')
        .replace(/@font-face\{[^}]*https?:\/\/[^}]*\}/g, '')
        // ChatUI is made for full-page apps: its html/body rules would stop the host page scrolling.
        .replace(/(?<=^|[{}])(?:html|body|#root)(?:\[[^\]]*\])?(?:,(?:html|body|#root))*\{[^}]*\}/g, ''),
      loader: 'css',
    }));
  },
};

const fingerprint = sourceHash();
await build({
  entryPoints: ['src/widget.jsx'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2019', 'chrome80', 'safari13'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  outfile: join(out, 'chuishao-widget.js'),
  banner: { js: `/* chuishao-widget source ${fingerprint} */`, css: `/* chuishao-widget source ${fingerprint} */` },
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [dropRemoteFonts],
});

for (const name of ['chuishao-widget.js', 'chuishao-widget.css']) {
  const text = readFileSync(join(out, name), 'utf8');
  const found = text.match(new RegExp(`https?://[^"')\\s]*${CDN.source}[^"')\\s]*`));
  if (found) {
    console.error(`${name} still refers to a CDN: ${found[0]}`);
    process.exit(1);
  }
}
writeFileSync(join(out, 'SOURCE'), `${fingerprint}\n`);
console.log(`widget built into ${out} (source ${fingerprint})`);
