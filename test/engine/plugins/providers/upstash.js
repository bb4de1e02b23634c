// What the stand-in upstash plugin (pulumi-upstash 0.5.0) implements: RedisDatabase as components/cache.ts declares
// it, with the outputs Upstash's create-database answer gives the real provider. No API call: the real one talks to
// api.upstash.com, whose base URL cannot be configured, so there is no fake to ask.
"use strict";

module.exports = {
  pkg: "@upstash/pulumi",
  resources: {
    "upstash:index/redisDatabase:RedisDatabase": {
      file: "redisDatabase.d.ts",
      iface: "RedisDatabaseArgs",
      // The resource schema's ForceNew fields: a database cannot be renamed, moved or have TLS turned off in place.
      forceNew: ["databaseName", "region", "primaryRegion", "tls"],
      // The password and both REST tokens are credentials (the schema marks them Sensitive).
      create: (inputs, { h }) => ({
        id: uuid(h),
        secrets: ["password", "restToken", "readOnlyRestToken"],
        outputs: {
          databaseId: uuid(h),
          databaseType: "Pay as You Go",
          endpoint: `${(inputs.databaseName || "db").toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${parseInt(h.slice(0, 5), 16)}.upstash.io`,
          port: 6379,
          password: `A${h.slice(0, 31)}`,
          restToken: `AX${h.slice(32, 64)}`,
          readOnlyRestToken: `Ao${h.slice(16, 48)}`,
          state: "active",
          creationTime: 1_700_000_000 + parseInt(h.slice(0, 6), 16),
          // The account e-mail the real one reports is a login credential here (UPSTASH_EMAIL): left empty.
          userEmail: "",
          dbMaxClients: 10000,
          dbMaxRequestSize: 104857600,
          dbMaxEntrySize: 104857600,
          dbMemoryThreshold: 268435456,
          dbDiskThreshold: 107374182400,
          dbMaxCommandsPerSecond: 10000,
          dbDailyBandwidthLimit: 0,
        },
      }),
    },
  },
  invokes: {},
};

/** Upstash database ids are UUIDs. */
function uuid(h) {
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
