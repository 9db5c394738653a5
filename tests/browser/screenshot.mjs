// screenshot.mjs: makes docs/screenshot.png, the picture in the README, from
// a real cluster and three people chatting in Chromium.
// Run: (cd tests/browser && npm ci && node screenshot.mjs [out.png])
import path from 'node:path';
import { Cluster, ROOT, until } from './cluster.mjs';
import { launch, Person } from './browser.mjs';

const out = path.resolve(process.argv[2] || path.join(ROOT, 'docs', 'screenshot.png'));
const cluster = await new Cluster().start();
const browser = await launch();
try {
  const size = { viewport: { width: 1000, height: 560 } };
  const [ana, ben, chloe] = await Promise.all([0, 1, 0].map((i) => Person.open(browser, cluster.urls[i], size)));
  const people = [[ana, 'ana'], [ben, 'ben'], [chloe, 'chloe']];
  for (const [p, nick] of people) {
    await p.pickNick(nick);
    await p.waitOnline();
    await p.join('design');
  }
  await until(async () => (await ana.members()).length === 3, 'three members');
  await until(async () => (await ana.page.locator('#online').textContent()) === '3 online', 'the online count');
  const lines = [
    [ben, 'morning! the new gateway build is up on staging'],
    [chloe, 'nice, does it keep sessions across a restart?'],
    [ben, 'yes: clients resume within the 30 s grace period, nothing lost'],
    [ana, 'I will run chat-bench against it after lunch'],
    [chloe, '<b>markup</b> shows as text, by the way'],
  ];
  for (const [p, text] of lines) {
    await p.send(text);
    await until(async () => (await ana.texts()).includes(text), 'the line to arrive');
  }
  await ben.send('/nick benji');
  await until(async () => (await ana.notices()).includes('ben is now known as benji'), 'the nick change');
  await chloe.page.locator('#members button.member', { hasText: 'ana' }).click();
  await chloe.send('lunch at 1?');
  await until(async () => (await ana.badge('@chloe')) === '1', 'the DM badge');
  await ben.page.locator('#msg-input').pressSequentially('sounds good');
  await until(async () => (await ana.typingLine()) === 'benji is typing…', 'the typing line');
  await ana.page.screenshot({ path: out });
  console.log('wrote ' + out);
} finally {
  await browser.close();
  await cluster.stop();
}
