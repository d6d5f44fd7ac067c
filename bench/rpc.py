"""A small JSON-RPC client speaking to trytond the way sao does."""
import base64
import gzip
import json
import time
import urllib.request


class RPCError(Exception):
    pass


class Session:
    def __init__(self, url, database, login, password):
        self.url = f'{url.rstrip("/")}/{database}/'
        self.login = login
        result = self._post(
            'common.db.login', [login, {'password': password}, 'en'],
            auth=None)
        self.user_id, self.key = result[0], result[1]
        token = base64.b64encode(
            f'{login}:{self.user_id}:{self.key}'.encode()).decode()
        self.auth = f'Session {token}'
        self.context = self._post(
            'model.res.user.get_preferences', [True, {}], auth=self.auth)

    def _post(self, method, params, auth):
        body = json.dumps({'id': 1, 'method': method, 'params': params})
        # a browser accepts gzip, and trytond then sends a long answer in
        # a few compressed chunks instead of one write per JSON token
        request = urllib.request.Request(
            self.url + 'rpc/', data=body.encode(),
            headers={'Content-Type': 'application/json',
                'Accept-Encoding': 'gzip'})
        if auth:
            request.add_header('Authorization', auth)
        with urllib.request.urlopen(request, timeout=60) as response:
            content = response.read()
            if response.headers.get('Content-Encoding') == 'gzip':
                content = gzip.decompress(content)
            data = json.loads(content)
        if data.get('error'):
            raise RPCError(data['error'])
        return data['result']

    def call(self, method, *params):
        return self._post(method, [*params, self.context], auth=self.auth)

    def timed(self, method, *params):
        start = time.perf_counter()
        result = self.call(method, *params)
        return (time.perf_counter() - start) * 1000, result


def percentile(values, fraction):
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(fraction * (len(values) - 1))))
    return values[index]
