// An app server as it exists in the wild: it signs its REST calls with the
// public `atlassian-jwt` package, exactly as its README shows, and knows
// nothing about Gatehouse. Run by crates/gatehouse-server/tests/interop.rs,
// which sets up the tenant and passes these variables.
import * as jwt from 'atlassian-jwt';

const { BASE_URL, APP_KEY, SHARED_SECRET, ISSUE_KEY, USER_ID } = process.env;
if (!BASE_URL || !APP_KEY || !SHARED_SECRET || !ISSUE_KEY || !USER_ID) {
  console.error('set BASE_URL, APP_KEY, SHARED_SECRET, ISSUE_KEY, USER_ID');
  process.exit(2);
}

function token(method, url, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  const req = jwt.fromMethodAndUrl(method, url);
  return jwt.encodeSymmetric(
    { iss: APP_KEY, iat: now, exp: now + 180, qsh: jwt.createQueryStringHash(req, false, BASE_URL), ...extra },
    SHARED_SECRET,
  );
}

async function call(method, path, { body, signFor, inQuery, extra } = {}) {
  const url = BASE_URL + path;
  const t = token(signFor?.method ?? method, signFor ? BASE_URL + signFor.path : url, extra);
  const headers = { 'content-type': 'application/json' };
  let target = url;
  if (inQuery) target += (url.includes('?') ? '&' : '?') + 'jwt=' + t;
  else headers.authorization = 'JWT ' + t;
  const res = await fetch(target, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, etag: res.headers.get('etag'), json: text ? JSON.parse(text) : null };
}

let passed = 0;
let failed = 0;
function expect(name, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: ${JSON.stringify(detail)}`);
  }
}

const prop = `/rest/atlassian-connect/1/addons/${APP_KEY}/properties/config`;
let r = await call('PUT', prop, { body: { showGlance: true, n: 1 } });
expect('create app property', r.status === 201 && r.etag === '"1"', r);
r = await call('PUT', prop + '?note=a%20b*c~&x=2&x=1&empty=', { body: { showGlance: false } });
expect('update with a query string (sorted, repeated, encoded params)', r.status === 200 && r.etag === '"2"', r);
r = await call('GET', prop);
expect('read back', r.status === 200 && r.json.value.showGlance === false && r.json.key === 'config', r);
r = await call('GET', `/rest/atlassian-connect/1/addons/${APP_KEY}/properties`);
expect('list', r.status === 200 && r.json.keys.some((k) => k.key === 'config'), r);
r = await call('GET', prop, { inQuery: true });
expect('token in the jwt query parameter', r.status === 200, r);

const issueProp = `/rest/api/2/issue/${ISSUE_KEY}/properties/dynatraceProblemId`;
r = await call('PUT', issueProp, { body: 'P-42' });
expect('Jira issue property', r.status === 201, r);
r = await call('GET', issueProp);
expect('Jira issue property read', r.status === 200 && r.json.value === 'P-42', r);
r = await call('GET', issueProp, { extra: { sub: USER_ID } });
expect('acting as a user (ACT_AS_USER)', r.status === 200, r);

r = await call('GET', prop, { signFor: { method: 'GET', path: `/rest/atlassian-connect/1/addons/${APP_KEY}/properties/other` } });
expect('a token signed for another path is refused', r.status === 401 && r.json.code === 'qsh_mismatch', r);
r = await call('DELETE', prop, { signFor: { method: 'GET', path: prop } });
expect('a token signed for another method is refused', r.status === 401 && r.json.code === 'qsh_mismatch', r);

r = await call('DELETE', prop);
expect('delete', r.status === 204, r);
r = await call('GET', prop);
expect('gone', r.status === 404, r);

console.log(`interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
