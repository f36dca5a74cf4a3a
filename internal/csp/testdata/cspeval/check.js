// Reads [{name, original, merged}] (JSON, file in argv[2]) and prints, as
// JSON, every HIGH or SYNTAX finding of Google's CSP Evaluator that a merged
// policy has and its original had not: [{name, added: [...]}]. A header
// value may hold several policies separated by commas; each is evaluated.
"use strict";
const fs = require("fs");
const { CspParser } = require("csp_evaluator/dist/parser.js");
const { CspEvaluator } = require("csp_evaluator/dist/evaluator.js");
const { Severity } = require("csp_evaluator/dist/finding.js");

function findings(header) {
  const out = new Map();
  for (const text of header.split(",")) {
    if (text.trim() === "") continue;
    const csp = new CspParser(text).csp;
    for (const f of new CspEvaluator(csp).evaluate()) {
      if (f.severity !== Severity.HIGH && f.severity !== Severity.SYNTAX) continue;
      const key = [f.severity, f.type, f.directive, f.value].join("|");
      out.set(key, Severity[f.severity] + " " + f.directive + (f.value ? " " + f.value : "") + ": " + f.description);
    }
  }
  return out;
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const result = cases.map((c) => {
  const before = findings(c.original);
  const added = [];
  for (const [key, text] of findings(c.merged)) {
    if (!before.has(key)) added.push(text);
  }
  return { name: c.name, added };
});
process.stdout.write(JSON.stringify(result));
