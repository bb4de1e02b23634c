// @pulumi/command is installed (so the Node language host lists it as a required plugin) but the program declares
// no command resource. This stand-in only exists so the engine finds a plugin; every call fails.
"use strict";
module.exports = { pkg: "@pulumi/command", resources: {}, invokes: {} };
