// Runs in its own Node process, with ts-node registered the way `pulumi up` registers it. Constructs one dynamic
// resource under Pulumi's mock runtime and prints what the engine would receive: the serialized provider text and the
// resource's inputs. Spec on stdin: { module, export, name, args, secretArgs?, stack? }, or an array of them (one
// stack) to serialize several resources in one process; then it prints an array.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";

interface Spec {
  module: string;
  export: string;
  name: string;
  args: Record<string, unknown>;
  secretArgs?: string[];
  stack?: string;
}

async function main(): Promise<void> {
  const input = JSON.parse(fs.readFileSync(0, "utf8")) as Spec | Spec[];
  const specs = Array.isArray(input) ? input : [input];
  const registered: Array<{ type: string; name: string; inputs: Record<string, unknown> }> = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call(args) {
        throw new Error(`Mock call not implemented: ${args.token}`);
      },
    },
    "renewa-platform",
    specs[0]?.stack ?? "development",
    true,
  );
  const out: Array<{ provider: unknown; inputs: Record<string, unknown> }> = [];
  for (const spec of specs) {
    if ((spec.stack ?? "development") !== (specs[0]?.stack ?? "development")) throw new Error("one batch serializes for one stack");
    const mod = require(spec.module);
    const Resource = mod[spec.export];
    const args: Record<string, unknown> = { ...spec.args };
    for (const key of spec.secretArgs ?? []) args[key] = pulumi.secret(args[key]);
    const resource = new Resource(spec.name, args) as pulumi.CustomResource;
    await new Promise<void>((resolve) => resource.urn.apply(() => resolve()));
    const mine = registered.find((r) => r.name === spec.name);
    if (!mine) throw new Error(`resource ${spec.name} was not registered`);
    out.push({ provider: mine.inputs.__provider, inputs: mine.inputs });
  }
  process.stdout.write(JSON.stringify(Array.isArray(input) ? out : out[0]));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
