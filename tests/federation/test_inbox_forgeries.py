"""Generated forged and malformed deliveries to the inbox: 0 accepted, 0 stored, 0 server errors.

Each case takes a plausible activity and breaks one thing an attacker controls
(who signs, which key, the body after signing, the date, the headers, the id's
origin, the JSON itself). A hypothesis property adds random activity shapes,
validly signed: the inbox never answers 5xx to them.
"""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parvis.federation import signatures
from parvis.federation.models import InboundActivity
from parvis.identity.models import Account
from parvis.interactions.models import Follow
from tests.federation.signed import VILLE, Remote, make_remote, post

pytestmark = pytest.mark.django_db(transaction=True)

TYPES = [
    "Follow",
    "Undo",
    "Create",
    "Like",
    "Announce",
    "Delete",
    "Update",
    "Block",
    "Flag",
    "Move",
    "Accept",
]


def _activity(rng: random.Random, remote: Remote, n: int) -> dict:
    kind = rng.choice(TYPES)
    obj = rng.choice(
        [
            VILLE,
            f"{VILLE}/1",
            {
                "type": "Note",
                "id": f"{remote.uri}/notes/{n}",
                "content": "<script>alert(1)</script>",
            },
        ]
    )
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{remote.uri}/activities/{n}",
        "type": kind,
        "actor": remote.uri,
        "object": obj,
    }


def forgeries(remote: Remote, other: Remote, count: int) -> list[tuple[str, dict]]:
    rng = random.Random(20261121)
    wrong_key = signatures.generate_rsa_key()
    cases: list[tuple[str, dict]] = []
    for n in range(count):
        activity = _activity(rng, remote, n)
        base = {"activity": activity, "key_id": remote.key_id, "key": remote.key}
        kind = n % 12
        if kind == 0:
            cases.append(
                ("actor is someone else", {**base, "activity": {**activity, "actor": other.uri}})
            )
        elif kind == 1:
            cases.append(
                (
                    "signed with another actor's key",
                    {**base, "key_id": other.key_id, "key": other.key},
                )
            )
        elif kind == 2:
            cases.append(("wrong private key", {**base, "key": wrong_key}))
        elif kind == 3:
            cases.append(
                (
                    "id on another origin",
                    {**base, "activity": {**activity, "id": f"https://evil{n}.example/a"}},
                )
            )
        elif kind == 4:
            skew = timedelta(seconds=rng.choice([-1, 1]) * rng.randint(400, 10**6))
            cases.append(("date out of window", {**base, "now": datetime.now(UTC) + skew}))
        elif kind == 5:
            cases.append(
                ("no signature", {**base, "tamper": {"Signature": None, "Signature-Input": None}})
            )
        elif kind == 6:
            cases.append(
                (
                    "digest of another body",
                    {**base, "tamper": {"Digest": "SHA-256=" + "A" * 43 + "="}},
                )
            )
        elif kind == 7:
            cases.append(
                (
                    "garbage signature",
                    {
                        **base,
                        "tamper": {
                            "Signature": rng.choice(['keyId="x"', "", "a=b=c", 'signature="!!"'])
                        },
                    },
                )
            )
        elif kind == 8:
            missing = rng.choice(["id", "type", "actor"])
            cases.append(
                (
                    f"no {missing}",
                    {**base, "activity": {k: v for k, v in activity.items() if k != missing}},
                )
            )
        elif kind == 9:
            cases.append(
                (
                    "not an object",
                    {
                        **base,
                        "activity": rng.choice([b"[]", b"null", b"42", b'"x"', b"{", b"\xff\xfe"]),
                    },
                )
            )
        elif kind == 10:
            depth = rng.randint(2_000, 50_000)
            cases.append(("deep nesting", {**base, "activity": b"[" * depth + b"]" * depth}))
        else:
            cases.append(
                (
                    "RFC 9421 over a changed body",
                    {
                        **base,
                        "scheme": "rfc9421",
                        "tamper": {"Content-Digest": "sha-256=:" + "A" * 43 + "=:"},
                    },
                )
            )
    return cases


def test_generated_forgeries_are_all_refused(remote: Remote, account: Account) -> None:
    other = make_remote(remote.sink, "mallory")
    cases = forgeries(remote, other, 300)
    statuses: dict[int, int] = {}
    for name, kwargs in cases:
        response = post(**kwargs)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (400, 401, 403, 413), (name, response.status_code)
    assert InboundActivity.objects.count() == 0 and Follow.objects.count() == 0
    print(
        f"\n{len(cases)} generated forged or malformed deliveries: 0 accepted, 0 stored, "
        f"0 server errors; statuses {dict(sorted(statuses.items()))}"
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.one_of(st.sampled_from(TYPES), st.text(max_size=70)),
    obj=json_values,
    extra=st.dictionaries(st.text(max_size=10), json_values, max_size=3),
)
def test_any_signed_activity_shape_gets_an_answer_never_a_crash(
    remote: Remote,
    account: Account,
    kind: str,
    obj: object,
    extra: dict,
) -> None:
    activity = {
        **extra,
        "id": f"{remote.uri}/activities/{random.random()}",
        "type": kind,
        "actor": remote.uri,
        "object": obj,
    }
    response = post(activity, key_id=remote.key_id, key=remote.key)
    assert response.status_code in (202, 400), (response.status_code, response.content[:200])
    if response.status_code == 202:
        stored = InboundActivity.objects.get(uri=activity["id"])
        assert json.loads(stored.body)["actor"] == remote.uri
