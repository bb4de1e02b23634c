/**
 * Pulumi mocks for ImagePromotion: stack references answer from a table of stack outputs, and the docker provider's
 * getRegistryImage invoke asks a (fake) Docker Registry v2 over HTTP with the credentials configured on the explicit
 * docker provider the invoke was sent to, as the real provider would. So a missing digest, or a provider configured
 * without the token, really fails.
 */
import type * as pulumi from "@pulumi/pulumi";
import { specialSigKey as SECRET_SIG } from "@pulumi/pulumi/runtime/rpc";
import { registryLookup } from "./registry";

/** Mocks see secret inputs in their wire form: { <sig>: <secret sig>, value }. */
export const isSecret = (v: any): boolean => Boolean(v && typeof v === "object" && SECRET_SIG in v);
export const unsecret = (v: any): any => (isSecret(v) ? v.value : v);

export interface PromotionMockState {
  stackOutputs: Record<string, Record<string, unknown>>;
  resources: Array<{ type: string; name: string; inputs: any }>;
  lookups: string[];
}

export function promotionMocks(registryUrl: string, state: PromotionMockState): pulumi.runtime.Mocks {
  return {
    newResource(args) {
      state.resources.push({ type: args.type, name: args.name, inputs: args.inputs });
      if (args.type === "pulumi:pulumi:StackReference") {
        return { id: args.inputs.name, state: { name: args.inputs.name, outputs: state.stackOutputs[args.inputs.name] ?? {} } };
      }
      return { id: `${args.name}-id`, state: args.inputs };
    },
    async call(args) {
      const fail = (text: string) => Object.assign(new Error(text), { details: text });
      if (args.token !== "docker:index/getRegistryImage:getRegistryImage") throw fail(`Mock call not implemented: ${args.token}`);
      state.lookups.push(args.inputs.name);
      const provider = state.resources.find(
        (r) => r.type === "pulumi:providers:docker" && args.provider?.endsWith(`::${r.name}::${r.name}-id`),
      );
      if (!provider) throw fail(`getRegistryImage was not sent to an explicit docker provider (got ${args.provider})`);
      const auths = JSON.parse(unsecret(provider.inputs.registryAuth) ?? "[]") as Array<{ address: string; username?: string; password?: string }>;
      return registryLookup(registryUrl, args.inputs.name, auths.find((a) => a.address === "registry.fly.io") ?? {});
    },
  };
}
