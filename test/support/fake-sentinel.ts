/**
 * A Sentinel that lags: it answers with the real master but lists only some of the replicas, as a real
 * Sentinel does until it has read the master's INFO after a replica joined or came back. Speaks just
 * enough RESP for ioredis and the ACL users initialiser (AUTH, INFO, SENTINEL get-master-addr-by-name /
 * replicas / sentinels / flushconfig, ACL SETUSER / GETUSER / DELUSER on an in-memory table).
 */
import * as net from "node:net";
import { closedPort } from "./servers";

type HostPort = { host: string; port: number };

function encode(v: unknown): string {
  if (v === null) return "*-1\r\n";
  if (Array.isArray(v)) return `*${v.length}\r\n${v.map(encode).join("")}`;
  const s = String(v);
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

/** Parses complete RESP arrays of bulk strings from `buf`; returns the commands and the rest. */
function parse(buf: string): { commands: string[][]; rest: string } {
  const commands: string[][] = [];
  let pos = 0;
  for (;;) {
    const start = pos;
    const line = (): string | undefined => {
      const end = buf.indexOf("\r\n", pos);
      if (end < 0) return undefined;
      const l = buf.slice(pos, end);
      pos = end + 2;
      return l;
    };
    const head = line();
    if (head === undefined || !head.startsWith("*")) return { commands, rest: buf.slice(start) };
    const args: string[] = [];
    for (let i = 0; i < Number(head.slice(1)); i++) {
      const len = line();
      if (len === undefined || buf.length < pos + Number(len.slice(1)) + 2)
        return { commands, rest: buf.slice(start) };
      args.push(buf.slice(pos, pos + Number(len.slice(1))));
      pos += Number(len.slice(1)) + 2;
    }
    commands.push(args);
  }
}

/** Starts the lagging Sentinel on a loopback port; `close()` stops it. */
export async function laggingSentinel(opts: {
  password: string;
  masterName: string;
  master: HostPort;
  listedReplicas: HostPort[];
}): Promise<{ port: number; close: () => void }> {
  const port = await closedPort();
  const sockets = new Set<net.Socket>();
  // Its own ACL users, so that an initialiser can give it the users' discovery logins like a real one.
  const users = new Map<string, unknown[]>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    let buf = "";
    let authed = false;
    sock.on("error", () => undefined);
    sock.on("data", (d) => {
      const { commands, rest } = parse(buf + d.toString("binary"));
      buf = rest;
      for (const [cmd, ...args] of commands) {
        const c = cmd.toUpperCase();
        if (c === "AUTH") {
          authed = args[args.length - 1] === opts.password;
          sock.write(authed ? "+OK\r\n" : "-WRONGPASS invalid username-password pair\r\n");
        } else if (!authed) sock.write("-NOAUTH Authentication required.\r\n");
        else if (c === "INFO") sock.write(encode("# Server\r\nredis_mode:sentinel\r\nloading:0\r\n"));
        else if (c === "SENTINEL" && args[0]?.toLowerCase() === "get-master-addr-by-name")
          sock.write(
            encode(args[1] === opts.masterName ? [opts.master.host, String(opts.master.port)] : null),
          );
        else if (c === "SENTINEL" && args[0]?.toLowerCase() === "sentinels") sock.write(encode([]));
        else if (c === "SENTINEL" && args[0]?.toLowerCase() === "flushconfig") sock.write("+OK\r\n");
        else if (c === "ACL" && args[0]?.toLowerCase() === "setuser") {
          users.set(args[1], ["flags", ["on"], "rules", args.slice(2).join(" ")]);
          sock.write("+OK\r\n");
        } else if (c === "ACL" && args[0]?.toLowerCase() === "getuser")
          sock.write(encode(users.get(args[1]) ?? null));
        else if (c === "ACL" && args[0]?.toLowerCase() === "deluser")
          sock.write(`:${users.delete(args[1]) ? 1 : 0}\r\n`);
        else if (c === "SENTINEL" && ["replicas", "slaves"].includes(args[0]?.toLowerCase()))
          sock.write(
            encode(
              opts.listedReplicas.map((r) => [
                "name",
                `${r.host}:${r.port}`,
                "ip",
                r.host,
                "port",
                String(r.port),
                "flags",
                "slave",
              ]),
            ),
          );
        else sock.write(`-ERR unknown command '${cmd}'\r\n`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    port,
    close: () => {
      sockets.forEach((s) => s.destroy());
      server.close();
    },
  };
}
