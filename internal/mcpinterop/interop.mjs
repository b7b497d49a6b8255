// Interop test: the official MCP TypeScript client (@modelcontextprotocol/sdk,
// pinned in package-lock.json) drives `vmc-git mcp serve` over stdio or
// streamable HTTP. Run by mcpserver's TestTypeScriptClient; every failure
// exits non-zero with its reason.
//
// env: VMC_BIN, VMC_REPO, ADMIN_KEY (pins the policy), APPLIER_KEY (the
// agent's), APPROVER_KEY (the human's), MODE (stdio|http), PLAN_ID, SERVER.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`$${k} not set`);
  return v;
};
const bin = env("VMC_BIN"), repo = env("VMC_REPO"), mode = env("MODE");
const id = env("PLAN_ID"), server = env("SERVER");

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// human runs a command in the repository as the operator would.
function human(cmd, ...args) {
  return execFileSync(cmd, args, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function connect() {
  const client = new Client({ name: "vmc-interop", version: "1.0.0" });
  const serveArgs = ["-C", repo, "mcp", "serve", "--key", env("APPLIER_KEY")];
  if (mode === "stdio") {
    await client.connect(new StdioClientTransport({ command: bin, args: serveArgs, stderr: "inherit" }), WAIT);
    return { client, stop: async () => client.close() };
  }
  const token = randomBytes(24).toString("hex");
  const proc = spawn(bin, [...serveArgs, "--http", "127.0.0.1:0"], {
    env: { ...process.env, VMC_MCP_TOKEN: token },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    proc.stderr.on("data", (d) => {
      buf += d;
      const m = buf.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    proc.on("exit", (code) => reject(new Error(`server exited ${code}: ${buf}`)));
    setTimeout(() => reject(new Error(`server did not listen: ${buf}`)), 120000);
  });
  // Without the token: refused.
  const bad = new Client({ name: "no-token", version: "1" });
  let refused = false;
  try {
    await bad.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: "Bearer not-the-token-at-all" } } }));
  } catch (e) {
    refused = /401|nauthori|invalid token/i.test(String(e));
    if (!refused) throw new Error(`wrong token: unexpected error ${e}`);
  }
  tl("bad refused");   check(refused, "a wrong token was served");
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }), WAIT);
  return {
    client,
    stop: async () => {
      await client.close();
      const exited = new Promise((resolve) => proc.on("exit", resolve));
      proc.kill("SIGTERM");
      const t = Date.now();
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 60000))]);
      check(code === 0, `server exit after SIGTERM: ${code}`);
      tl(`server exited in ${Date.now() - t}ms`);
    },
  };
}

// Waits for an answer, not a speed check: the SDK's default of 60 s per
// request is short for a loaded machine.
const WAIT = { timeout: 300000 };

async function call(client, name, args) {
  return client.callTool({ name, arguments: args }, undefined, WAIT);
}

function text(r) {
  return (r.content || []).map((c) => c.text || "").join("");
}

const T0 = Date.now(); const tl = (m) => console.error(`[${Date.now() - T0}ms] ${m}`);
async function main() {
  const { client, stop } = await connect(); tl("connected");
  try {
    const { tools } = await client.listTools(undefined, WAIT);
    const names = tools.map((t) => t.name).sort();
    for (const want of ["apply", "ledger_head", "log", "plan_create", "plan_show", "plan_status", "receipt_get", "servers_list", "verify_chain"]) {
      check(names.includes(want), `tool ${want} missing: ${names}`);
    }
    check(!names.some((n) => /approve|trust|lock|force/.test(n)), `a tool an agent must not have: ${names}`);

    // The human's policy on main: one rule that only warns.
    rmSync(`${repo}/policy`, { recursive: true, force: true });
    mkdirSync(`${repo}/policy`);
    writeFileSync(`${repo}/policy/interop.rego`, 'package vmc.interop\n\nwarn contains {"resource": sprintf("server/%s", [s.name]), ' +
      '"rule": "interop", "reason": "seen by the interop test"} if {\n\tsome s in input.servers\n}\n');
    human("git", "add", "-A", "policy");
    human("git", "commit", "-q", "-m", "interop policy");
    // An admin pins it: apply judges plans only with the pinned bundle.
    human(bin, "policy", "pin", "--key", env("ADMIN_KEY"));

    const head0 = (await call(client, "ledger_head", {})).structuredContent.seq;
    const pc = await call(client, "plan_create", {
      id, summary: `interop ${mode}`,
      actions: [{ op: "create", server, server_type: "cx22", image: "ubuntu-24.04", location: "fsn1" }],
    });
    check(!pc.isError, `plan_create: ${text(pc)}`);
    check(pc.structuredContent.branch === `plan/${id}`, `branch ${pc.structuredContent.branch}`);
    // The policy result: a pass, with the warning about the planned server.
    const pol = pc.structuredContent.policy;
    check(pol && /^[0-9a-f]{64}$/.test(pol.bundle_blake3) && pol.pass === true && pol.deny.length === 0 &&
      pol.warn.some((w) => w.startsWith(`server/${server} [interop]`)), `plan_create policy: ${JSON.stringify(pol)}`);

    // Not approved (and not merged): refused, no receipt.
    const refused = await call(client, "apply", { id });
    check(refused.isError && /not merged/.test(text(refused)), `apply before approval: ${JSON.stringify(refused)}`);
    human("git", "merge", "-q", "--no-edit", `plan/${id}`);
    const unapproved = await call(client, "apply", { id });
    check(unapproved.isError && /plan not approved/.test(text(unapproved)) && text(unapproved).includes(`vmc-git approve plans/${id}.json`),
      `apply unapproved: ${text(unapproved)}`);
    check((await call(client, "ledger_head", {})).structuredContent.seq === head0, "a refused apply wrote a receipt");

    // Bad input through the TS client: tool errors.
    const bad = await call(client, "plan_show", { id: "../../etc/passwd" });
    check(bad.isError, `path trick: ${text(bad)}`);
    const wrongType = await call(client, "receipt_get", { seq: "zero" });
    check(wrongType.isError, `wrong type: ${text(wrongType)}`);

    // The human approves with the CLI and commits the approval on main.
    human(bin, "approve", `plans/${id}.json`, "--key", env("APPROVER_KEY"));
    human("git", "add", "plans");
    human("git", "commit", "-q", "-m", `approve ${id}`);

    const st = await call(client, "plan_status", { id });
    check(!st.isError && st.structuredContent.approved && !st.structuredContent.applied, `plan_status: ${text(st)}`);

    let progress = 0;
    const ap = await client.callTool({ name: "apply", arguments: { id } }, undefined, { ...WAIT, onprogress: () => progress++ });
    check(!ap.isError, `apply: ${text(ap)}`);
    const out = ap.structuredContent;
    check(out.status === "succeeded" && out.seq === head0 + 1, `apply result: ${JSON.stringify(out)}`);
    check(progress > 0, "no progress notifications");

    const rc = await call(client, "receipt_get", { seq: out.seq });
    check(!rc.isError && rc.structuredContent.blake3 === out.blake3, `receipt_get: ${text(rc)}`);
    const res = await client.readResource({ uri: `vmc://receipt/${out.seq}` }, WAIT);
    check(res.contents[0].text.includes(`"${id}"`), `receipt resource: ${JSON.stringify(res)}`);
    const vc = await call(client, "verify_chain", { signatures: true });
    check(!vc.isError && vc.structuredContent.ok && vc.structuredContent.head_blake3 === out.blake3, `verify_chain: ${text(vc)}`);

    const again = await call(client, "apply", { id });
    check(again.isError && /already applied/.test(text(again)), `replay: ${text(again)}`);

    // A second plan, merged, then withdrawn by the human: apply refuses it with
    // its own message (not "already applied"); plan_status says withdrawn.
    const id2 = `${id}-w`;
    const pc2 = await call(client, "plan_create", { id: id2, actions: [{ op: "poweroff", server }] });
    check(!pc2.isError, `plan_create ${id2}: ${text(pc2)}`);
    human("git", "merge", "-q", "--no-edit", `plan/${id2}`);
    human(bin, "plan", "withdraw", id2, "--reason", "interop: not needed", "--key", env("APPROVER_KEY"));
    const wd = await call(client, "apply", { id: id2 });
    check(wd.isError && /was withdrawn by .* a withdrawn plan never applies/.test(text(wd)) && !/already applied/.test(text(wd)),
      `apply withdrawn: ${text(wd)}`);
    const st2 = (await call(client, "plan_status", { id: id2 })).structuredContent;
    check(st2.withdrawn === true && st2.outcome === "withdrawn" && st2.reason === "interop: not needed", `plan_status withdrawn: ${JSON.stringify(st2)}`);
    // The human's own CLI agrees with the chain.
    human(bin, "verify", "chain", "--sig");
    console.log(`ok: ${mode}: plan ${id} applied in receipt ${out.seq} (${progress} progress notifications)`);
  } finally {
    tl("stopping"); await stop(); tl("stopped");
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`interop ${mode}: ${e.stack || e}`);
  process.exit(1);
});
