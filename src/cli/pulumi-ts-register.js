// Registers ts-node exactly the way `pulumi up` does (@pulumi/pulumi/cmd/run/run.js, CommonJS branch): the project's
// typescript and ts-node, the tsconfig.json of the working directory `pulumi up` gives the program (the folder of
// Pulumi.yaml's `main`: src/), Pulumi's default compiler options under the project's own. The offline
// commands and the tests load the program through this, so a tsconfig or import that would break `pulumi up` breaks
// them too. Type checking follows PULUMI_NODEJS_TRANSPILE_ONLY, as in run.js.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const tsutils = require("@pulumi/pulumi/tsutils");
const tsConfigPath = path.join(root, "src", "tsconfig.json");
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const ts = require(typescriptRequire);
const useNodeNext = Number(ts.version.split(".")[0]) * 100 + Number(ts.version.split(".")[1]) >= 407;
const env = process.env.PULUMI_NODEJS_TRANSPILE_ONLY;

require(tsnodeRequire).register({
  compiler: typescriptRequire,
  transpileOnly: env ? env === "true" : compilerOptions.noCheck,
  project: tsConfigPath,
  skipProject: !fs.existsSync(tsConfigPath),
  compilerOptions: {
    target: "ES2020",
    module: useNodeNext ? "nodenext" : "commonjs",
    moduleResolution: useNodeNext ? "nodenext" : "node",
    sourceMap: "true",
    ...compilerOptions,
  },
});
