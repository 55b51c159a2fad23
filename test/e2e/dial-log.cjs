/**
 * Preloaded (NODE_OPTIONS=--require) into every Node process the e2e's engine starts (the program, the
 * dynamic providers, the policy pack): appends each TCP connection the process opens, as
 * `<host> <port>` lines, to $AIPD_DIAL_LOG, so the test can prove none went to a pod or Service IP or
 * straight to a server instead of through a port-forward. Plain CommonJS: it loads before any loader.
 */
/* global require, process */
"use strict";
const fs = require("fs");
const net = require("net");

const file = process.env.AIPD_DIAL_LOG;
if (file) {
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    try {
      const first = Array.isArray(args[0]) ? args[0][0] : args[0];
      let host;
      let port;
      if (first && typeof first === "object") {
        if (first.path === undefined || first.path === null) {
          host = first.host || "localhost";
          port = first.port;
        }
      } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
        port = first;
        host = typeof args[1] === "string" ? args[1] : "localhost";
      }
      if (port !== undefined) fs.appendFileSync(file, `${host} ${port}\n`);
    } catch {
      // Recording must never change what the process does.
    }
    return original.apply(this, args);
  };
}
