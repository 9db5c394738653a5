// The chat page in a real Chromium against a real broker and two gateways.
// Two people (separate browser contexts) sit on different gateways.
// Run: node --test chat.test.mjs   (tests/run-all.sh does it via ctest)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, sleep, until } from './cluster.mjs';
import { launch, Person } from './browser.mjs';

const ROOM = 'lobby';
const XSS = '<img src=x onerror=alert(1)>';

let cluster, browser, alice, bob;

describe('chat page', { timeout: 240000 }, () => {
  before(async () => {
    cluster = await new Cluster().start();
    browser = await launch();
    [alice, bob] = await Promise.all(cluster.urls.map((url) => Person.open(browser, url)));
  });

  after(async () => {
    for (const p of [alice, bob]) if (p) await p.shot(p === alice ? 'final-alice' : 'final-bob').catch(() => {});
    if (browser) await browser.close();
    const bad = cluster ? await cluster.stop() : [];
    assert.deepEqual(bad, [], 'every process exits cleanly on SIGTERM');
  });

  it('is served with a CSP that forbids inline script, and works under it', async () => {
    const csp = alice.response.headers()['content-security-policy'];
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.deepEqual(await alice.cspViolations(), []);
  });

  it('asks for a nick and explains an invalid one', async () => {
    await alice.page.locator('#nick-panel').waitFor({ state: 'visible' });
    await alice.pickNick('not valid!');
    await until(async () => /letters, digits/.test(await alice.$('#nick-error').textContent()), 'a nick hint');
    assert.ok(await alice.$('#nick-panel').isVisible());
  });

  it('lets both pick nicks and join a room, on different gateways', async () => {
    await alice.pickNick('alice');
    await bob.pickNick('bob');
    await alice.waitOnline();
    await bob.waitOnline();
    assert.equal(await alice.myNick(), 'alice');
    assert.notEqual(alice.page.url(), bob.page.url(), 'the two are on different gateways');
    await alice.join(ROOM);
    await bob.join(ROOM);
    await until(async () => (await alice.members()).join() === 'alice,bob', 'alice to see both members');
    await until(async () => (await bob.members()).join() === 'alice,bob', 'bob to see both members');
    await until(async () => (await alice.notices()).includes('bob joined'), 'alice to see bob join');
    await until(async () => /2 online/.test(await bob.$('#online').textContent()), 'the online count');
  });

  it('tells a person whose nick is taken to choose again', async () => {
    const carol = await Person.open(browser, cluster.urls[0]);
    try {
      await carol.pickNick('Alice'); // nicks compare case-insensitively
      await until(async () => /taken/.test(await carol.$('#nick-prompt').textContent()), 'the taken prompt');
      assert.ok(await carol.$('#nick-panel').isVisible());
      await carol.pickNick('carol');
      await carol.waitOnline();
    } finally {
      await carol.close();
    }
  });

  it('shows messages once, in order, and confirms our own', async () => {
    const sent = ['one', 'two', 'three', 'four', 'five'];
    for (const t of sent) await alice.send(t);
    await until(async () => (await bob.texts()).join() === sent.join(), 'bob to see the five messages in order');
    await until(async () => (await alice.$('#messages li.msg.mine.ok').count()) === sent.length, 'alice\'s five acks');
    assert.deepEqual(await alice.texts(), sent);
    const nicks = await bob.$('#messages li.msg .nick').allTextContents();
    assert.deepEqual(nicks, sent.map(() => 'alice'));
    const times = await bob.$('#messages li.msg time').allTextContents();
    for (const t of times) assert.match(t, /\d/, 'each message shows a time');
    await sleep(300); // anything duplicated would have arrived by now
    assert.deepEqual(await bob.texts(), sent);
  });

  it('shows the typing line while someone types and clears it', async () => {
    await alice.page.locator('#msg-input').pressSequentially('hel');
    await until(async () => (await bob.typingLine()) === 'alice is typing…', 'bob to see alice typing');
    await alice.type('');
    await alice.page.locator('#msg-input').dispatchEvent('input');
    await until(async () => (await bob.typingLine()) === '', 'the typing line to clear');
    await alice.page.locator('#msg-input').pressSequentially('hello');
    await until(async () => (await bob.typingLine()) === 'alice is typing…', 'typing again');
    await bob.page.locator('#msg-input').pressSequentially('yo');
    await until(async () => (await alice.typingLine()) === 'bob is typing…', 'alice to see bob typing');
    await alice.page.locator('#msg-input').press('Enter'); // sending stops typing
    await until(async () => (await bob.typingLine()) === '', 'sending to clear the typing line');
    await bob.type('');
    await bob.page.locator('#msg-input').dispatchEvent('input');
    await until(async () => (await alice.typingLine()) === '', 'bob\'s typing to clear');
  });

  it('renders script as text, wraps long words', async () => {
    const long = 'x'.repeat(600);
    await alice.send(XSS);
    await alice.send(long);
    await until(async () => (await bob.texts()).includes(long), 'bob to get both');
    assert.ok((await bob.texts()).includes(XSS), 'the markup is shown literally');
    assert.equal(await bob.$('#messages img').count(), 0, 'no element was made from the text');
    assert.deepEqual(bob.dialogs, [], 'no script ran');
    const overflow = await bob.page.$eval('#messages', (m) => m.scrollWidth - m.clientWidth);
    assert.ok(overflow <= 0, `the long word wraps (overflow ${overflow}px)`);
  });

  it('sends and receives private messages in their own conversation', async () => {
    await bob.$('#members button.member', { hasText: 'alice' }).click();
    await until(async () => (await bob.title()) === 'private: alice', 'the DM conversation to open');
    await bob.send('psst');
    await until(async () => (await bob.$('#messages li.msg.mine.ok .text').allTextContents()).includes('psst'), 'the DM ack');
    await until(async () => (await alice.badge('@alice'.replace('alice', 'bob'))) === '1', 'an unread badge on alice\'s DM from bob');
    assert.ok(!(await alice.texts()).includes('psst'), 'the DM is not in the room');
    await alice.$('.convs li[data-key="@bob"] .open').click();
    await until(async () => (await alice.texts()).join() === 'psst', 'alice to read the DM');
    assert.equal(await alice.badge('@bob'), null, 'the badge is gone once read');
    await alice.send('hi bob');
    await until(async () => (await bob.texts()).join() === 'psst,hi bob', 'bob to get the answer');
    await alice.$(`.convs li[data-key="#${ROOM}"] .open`).click();
    await bob.$(`.convs li[data-key="#${ROOM}"] .open`).click();
  });

  it('counts unread messages in other rooms, and leaves rooms', async () => {
    await bob.join('side');
    await alice.join('side');
    await alice.$(`.convs li[data-key="#${ROOM}"] .open`).click();
    await bob.send('in side');
    await until(async () => (await alice.badge('#side')) === '1', 'an unread badge on #side');
    await alice.$('.convs li[data-key="#side"] .open').click();
    await until(async () => (await alice.texts()).includes('in side'), 'the message in #side');
    assert.equal(await alice.badge('#side'), null);
    await alice.$('.convs li[data-key="#side"] .close').click();
    await until(async () => (await alice.$('.convs li[data-key="#side"]').count()) === 0, '#side to leave the list');
    await until(async () => (await bob.notices()).includes('alice left'), 'bob to see alice leave');
    await bob.$('.convs li[data-key="#side"] .close').click();
    await until(async () => (await bob.$('.convs li[data-key="#side"]').count()) === 0, 'bob to leave #side');
    for (const p of [alice, bob]) {
      await p.$(`.convs li[data-key="#${ROOM}"] .open`).click();
      await until(async () => (await p.title()) === '#' + ROOM, 'back in the lobby');
    }
  });

  it('shows a nick change', async () => {
    await alice.send('/nick alice2');
    await until(async () => (await alice.myNick()) === 'alice2', 'alice\'s new nick in her header');
    await until(async () => (await bob.notices()).includes('alice is now known as alice2'), 'bob to see the change');
    await until(async () => (await bob.members()).join() === 'alice2,bob', 'the member list to follow');
  });

  it('keeps the nick and shows history after a reload', async () => {
    await bob.page.reload();
    await bob.waitOnline();
    assert.equal(await bob.myNick(), 'bob');
    await until(async () => (await bob.title()) === '#' + ROOM, 'the room to be open again');
    await until(async () => (await bob.texts()).slice(0, 5).join() === 'one,two,three,four,five', 'history after the reload');
    await until(async () => (await bob.members()).join() === 'alice2,bob', 'the members after the reload');
    await alice.send('after reload');
    await until(async () => (await bob.texts()).includes('after reload'), 'live messages after the reload');
  });

  it('loads older history when scrolled up', async () => {
    await alice.page.evaluate(async () => {
      const input = document.getElementById('msg-input');
      for (let i = 1; i <= 120; i++) {
        input.value = 'old ' + i;
        input.form.requestSubmit();
      }
    });
    await until(async () => (await alice.$('#messages li.msg.mine.ok').count()) >= 120, 'the 120 acks');
    const dave = await Person.open(browser, cluster.urls[1]);
    try {
      await dave.pickNick('dave');
      await dave.waitOnline();
      await dave.join(ROOM);
      await until(async () => (await dave.texts()).includes('old 120'), 'the newest history on join');
      const first = (await dave.texts()).length;
      assert.ok(!(await dave.texts()).includes('old 1'), 'only a page of history at first');
      for (let i = 0; i < 10 && !(await dave.texts()).includes('one'); i++) {
        await dave.page.$eval('#messages', (m) => { m.scrollTop = 0; m.dispatchEvent(new Event('scroll')); });
        await sleep(300);
      }
      const all = await dave.texts();
      assert.ok(all.length > first, 'scrolling up loaded more');
      assert.equal(all[0], 'one', 'back to the first message of the room');
      const olds = all.filter((t) => t.startsWith('old '));
      assert.deepEqual(olds, Array.from({ length: 120 }, (_, i) => 'old ' + (i + 1)), 'in order, none twice');
    } finally {
      await dave.close();
    }
  });

  it('shows reconnecting when the broker restarts, then recovers and sends again', async () => {
    await cluster.killBroker();
    await alice.send('while down');
    await until(async () => (await alice.$('#messages li.msg.mine.failed .text').allTextContents()).includes('while down'),
      'the message sent while the broker is down to fail, with a retry');
    assert.equal(await alice.state(), 'unavailable');
    await bob.shot('broker-down-bob');
    await cluster.startBroker();
    for (const p of [alice, bob]) {
      await until(async () => (await p.states()).includes('reconnecting'), 'the page to show it is reconnecting', 20000);
      await p.waitOnline(20000);
    }
    await alice.$('#messages li.msg.mine.failed .retry').click();
    await until(async () => (await bob.texts()).includes('while down'), 'the retried message to arrive');
    await alice.send('back again');
    await until(async () => (await bob.texts()).includes('back again'), 'new messages after the restart');
    const counts = (await bob.texts()).filter((t) => t === 'one').length;
    assert.equal(counts, 1, 'the rejoin does not duplicate what was shown');
    await until(async () => (await alice.$('#messages li.msg.mine:not(.ok)').count()) === 0, 'every message of alice confirmed');
  });

  it('works on a phone-sized screen', async () => {
    const phone = await Person.open(browser, cluster.urls[0], { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      await phone.pickNick('erin');
      await phone.waitOnline();
      assert.ok(await phone.$('#menu-button').isVisible(), 'a menu button');
      await until(async () => (await phone.page.$eval('#side', (n) => n.getBoundingClientRect().right)) <= 0, 'the drawer closed');
      await phone.$('#menu-button').click();
      await until(async () => (await phone.page.$eval('#side', (n) => n.getBoundingClientRect().left)) >= 0, 'the drawer to open');
      await phone.join(ROOM);
      await until(async () => (await phone.page.$eval('#side', (n) => n.getBoundingClientRect().right)) <= 0, 'the drawer to close');
      await phone.send('from a phone');
      await until(async () => (await bob.texts()).includes('from a phone'), 'the phone\'s message');
      const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, 'nothing wider than the screen');
      await phone.shot('phone');
    } finally {
      await phone.close();
    }
  });

  it('raised no page errors and no CSP violations', async () => {
    for (const p of [alice, bob]) {
      assert.deepEqual(p.errors, []);
      assert.deepEqual(await p.cspViolations(), []);
    }
    await alice.shot('alice');
    await bob.shot('bob');
  });
});
