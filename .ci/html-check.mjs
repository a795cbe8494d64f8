// report.html as a person sees it, in headless Chromium: no console error, no request that
// leaves the page, charts drawn (SVGs with a size), the failure list when the run failed, and a
// screenshot. Then once more the way Jenkins' HTML Publisher serves it — its default
// Content-Security-Policy, scripts disabled — where the page must still show its charts and
// failures (the script's filters stay hidden).
//
// Each summary.md given (FILE.md) has its Mermaid blocks parsed by Mermaid itself, in the same
// browser: what GitHub and GitLab will draw.
//
// usage: node .ci/html-check.mjs NODE_MODULES_DIR CHROMIUM OUT_DIR FILE.html:MIN_CHARTS:FAILURES... FILE.md...
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const [modules, chromium, outDir, ...specs] = process.argv.slice(2);
const require = createRequire(path.resolve(modules, "package.json"));
const puppeteer = require("puppeteer-core");
const JENKINS_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'self';";

function serve(file, csp) {
  const body = fs.readFileSync(file);
  const server = http.createServer((req, res) => {
    if (req.url !== "/report.html") {
      res.writeHead(404).end();
      return;
    }
    const headers = { "content-type": "text/html; charset=utf-8" };
    if (csp) headers["content-security-policy"] = csp;
    res.writeHead(200, headers).end(body);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

async function check(browser, file, minCharts, failures, strict) {
  const server = await serve(file, strict ? JENKINS_CSP : null);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const page = await browser.newPage();
  await page.setViewport({ width: 1320, height: 1000 });
  if (strict) await page.setJavaScriptEnabled(false);
  const errors = [];
  const outside = [];
  page.on("console", (m) => {
    // Under the CSP the blocked stylesheet and script are reported, as they should be.
    if (m.type() === "error" && !(strict && /Content Security Policy|sandboxed/.test(m.text()))) errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setRequestInterception(true);
  page.on("request", (r) => {
    if (r.url().startsWith(origin + "/report.html")) r.continue();
    else {
      outside.push(r.url());
      r.abort();
    }
  });
  await page.goto(origin + "/report.html", { waitUntil: "load" });
  const seen = await page.evaluate(() => ({
    charts: [...document.querySelectorAll("svg")].filter((s) => {
      const b = s.getBoundingClientRect();
      return b.width > 100 && b.height > 50 && s.querySelectorAll("rect,polyline,circle").length > 1;
    }).length,
    failures: document.querySelectorAll("section.failure").length,
    filtersShown: !document.getElementById("filters").hidden,
    rows: document.querySelectorAll("table.tests tr[data-status]").length,
  }));
  const name = path.basename(path.dirname(file)) + (strict ? "-jenkins-csp" : "");
  await page.screenshot({ path: path.join(outDir, name + ".png"), fullPage: true });
  await page.close();
  server.close();
  const problems = [];
  if (errors.length) problems.push(`console errors: ${errors.join(" | ")}`);
  if (outside.length) problems.push(`requests that leave the page: ${outside.join(", ")}`);
  if (seen.charts < minCharts) problems.push(`${seen.charts} charts drawn, expected at least ${minCharts}`);
  if ((seen.failures > 0) !== failures) problems.push(`failure list: ${seen.failures} entries, expected ${failures ? "some" : "none"}`);
  if (seen.rows === 0) problems.push("the test list is empty");
  if (seen.filtersShown === strict) problems.push(strict ? "a script ran under the CSP" : "the filter script did not run");
  const mode = strict ? "Jenkins CSP, no scripts" : "browser";
  console.log(`${problems.length ? "FAIL" : "ok  "} ${file} (${mode}): ${seen.charts} charts, ${seen.failures} failures, ${seen.rows} tests`);
  problems.forEach((p) => console.log("     " + p));
  return problems.length === 0;
}

async function checkMermaid(browser, file) {
  const text = fs.readFileSync(file, "utf8");
  const blocks = [...text.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  const page = await browser.newPage();
  await page.addScriptTag({ path: require.resolve("mermaid/dist/mermaid.min.js") });
  const results = await page.evaluate(async (blocks) => {
    const out = [];
    for (const b of blocks) {
      try {
        const r = await window.mermaid.parse(b);
        out.push(r ? `ok ${r.diagramType}` : "rejected");
      } catch (e) {
        out.push("error: " + String(e.message || e));
      }
    }
    return out;
  }, blocks);
  await page.close();
  const bad = results.filter((r) => r !== "ok xychart");
  console.log(`${bad.length ? "FAIL" : "ok  "} ${file}: ${blocks.length} Mermaid blocks parsed (${results.join("; ")})`);
  return bad.length === 0;
}

fs.mkdirSync(outDir, { recursive: true });
const browser = await puppeteer.launch({ executablePath: chromium, args: ["--no-sandbox", "--disable-gpu"] });
let ok = true;
try {
  for (const spec of specs) {
    if (spec.endsWith(".md")) {
      ok = (await checkMermaid(browser, spec)) && ok;
      continue;
    }
    const [file, min, failures] = spec.split(":");
    for (const strict of [false, true]) ok = (await check(browser, file, Number(min), failures === "failures", strict)) && ok;
  }
} finally {
  await browser.close();
}
process.exit(ok ? 0 : 1);
