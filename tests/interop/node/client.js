// The npm `smpp` client (0.5.1) as an ESME through Stopgate, driven by tests/test_interop_node.py.
// argv: port, then a JSON plan: [{"submit": {...submit_sm fields}} | {"wait_mo": 1}, ...].
// Prints one JSON line per answer: {"submit": i, "status": n, "message_id": s} or {"mo": text, "dc": n}.
'use strict';
const smpp = require('smpp');

const port = Number(process.argv[2]);
const plan = JSON.parse(process.argv[3]);
const session = smpp.connect({ url: 'smpp://127.0.0.1:' + port });
const out = (line) => process.stdout.write(JSON.stringify(line) + '\n');
let moWaiter = null;
const mos = [];

session.on('error', (err) => { out({ error: String(err) }); process.exit(2); });
session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  const text = Buffer.isBuffer(pdu.short_message) ? pdu.short_message.toString('latin1')
    : pdu.short_message.message;
  out({ mo: text, dc: pdu.data_coding, esm_class: pdu.esm_class });
  mos.push(pdu);
  if (moWaiter) { const resolve = moWaiter; moWaiter = null; resolve(); }
});

function call(method, fields) {
  return new Promise((resolve) => session[method](fields, resolve));
}

async function main() {
  const bound = await call('bind_transceiver', { system_id: 'acme', password: 'acmepw' });
  out({ bind: bound.command_status });
  if (bound.command_status !== 0) process.exit(1);
  for (let i = 0; i < plan.length; i++) {
    const step = plan[i];
    if (step.wait_mo) {
      if (mos.length < step.wait_mo) await new Promise((resolve) => { moWaiter = resolve; });
      continue;
    }
    const resp = await call('submit_sm', step.submit);
    out({ submit: i, status: resp.command_status, message_id: resp.message_id || '' });
  }
  await call('unbind', {});
  session.close();
}

main().catch((err) => { out({ error: String(err) }); process.exit(3); });
