#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: one file per mutation name, valid against the seeded
neighbourhood of `quartier_core::fuzz::seeded_state` (a list where a rule needs earlier steps), and
the same as push bodies (and other endpoints' bodies) for the `request` target. Run it again after
adding a mutation name; the stable tests check that every name has its file."""
import hashlib, json, os

NOW = 1_772_442_000_000
here = os.path.dirname(os.path.abspath(__file__))
seq = 0

def hlc(author):
    global seq
    seq += 1
    node = 0xcbf29ce484222325
    for b in (author + "-phone").encode():
        node = ((node ^ b) * 0x100000001b3) % (1 << 64)
    return "%032x" % (((NOW + 1000 + seq) << 80) | node)

def m(author, name, args, nid="aligre"):
    return {"neighbourhood_id": nid, "author": author, "device_id": author + "-phone", "seq": 100 + seq,
            "hlc": hlc(author), "name": name, "args": args}

def code_hash(code):
    norm = "".join(c for c in code.upper() if c.isalnum())
    return hashlib.sha256(norm.encode()).hexdigest()

stall = {"id": "stall-2", "name": "Cheese", "market": "Aligre", "days": [2, 6], "opens_min": 480,
         "closes_min": 780, "place": "north row", "cell": {"row": 10000, "col": 200}}
approve = lambda: m("mona", "loan.approve", {"id": "loan-1"})
hand = lambda: m("mona", "loan.hand_over", {"id": "loan-1"})
promise = lambda: m("tom", "favour.promise", {"id": "fav-1"})
confirm = lambda: m("tom", "order.confirm", {"id": "order-1"})
ready = lambda: m("tom", "order.ready", {"id": "order-1"})
corpus = {
    "neighbourhood.create": m("zed", "neighbourhood.create", {"name": "Belleville", "description": "",
                              "cell": None, "display_name": "Zed"}, nid="belleville"),
    "neighbourhood.edit": m("mona", "neighbourhood.edit", {"name": "Aligre", "description": "market"}),
    "invitation.create": m("lea", "invitation.create", {"id": "inv-2", "code_hash": code_hash("fig 7"),
                           "expires_at": NOW + 86_400_000, "max_uses": 3}),
    "invitation.revoke": m("mona", "invitation.revoke", {"id": "inv-1"}),
    "member.join": m("zed", "member.join", {"invitation_id": "inv-1", "code": "plum tree 42",
                     "display_name": "Zed"}),
    "member.update_profile": m("lea", "member.update_profile", {"display_name": "Léa", "bio": "plants",
                               "skills": ["garden"], "cell": {"row": 10000, "col": 200}}),
    "member.set_role": m("mona", "member.set_role", {"member_id": "lea", "role": "moderator"}),
    "member.leave": [confirm(), m("lea", "member.leave", {})],
    "member.remove": m("mona", "member.remove", {"member_id": "tom"}),
    "favour.post": m("tom", "favour.post", {"id": "fav-2", "kind": "offer", "title": "I fix bikes",
                     "details": "", "category": "repairs",
                     "window": {"start_ms": NOW, "end_ms": NOW + 3_600_000}, "cell": None}),
    "favour.edit": m("lea", "favour.edit", {"id": "fav-1", "title": "Water my ferns", "details": "",
                     "category": "garden", "window": None}),
    "favour.promise": promise(),
    "favour.withdraw": [promise(), m("tom", "favour.withdraw", {"id": "fav-1"})],
    "favour.complete": [promise(), m("lea", "favour.complete", {"id": "fav-1"})],
    "favour.thank": [promise(), m("lea", "favour.complete", {"id": "fav-1"}),
                     m("lea", "favour.thank", {"id": "fav-1", "note": "merci"})],
    "favour.cancel": m("lea", "favour.cancel", {"id": "fav-1"}),
    "item.add": m("tom", "item.add", {"id": "item-2", "title": "Ladder", "description": "3 m",
                  "category": "tools", "condition": "worn", "deposit_note": "", "cell": None}),
    "item.edit": m("mona", "item.edit", {"id": "item-1", "title": "Drill", "description": "cordless",
                   "category": "tools", "condition": "fair", "deposit_note": "10 EUR"}),
    "item.withdraw": m("mona", "item.withdraw", {"id": "item-1"}),
    "item.relist": [m("mona", "item.withdraw", {"id": "item-1"}), m("mona", "item.relist", {"id": "item-1"})],
    "loan.request": m("tom", "loan.request", {"id": "loan-2", "item_id": "item-1", "first_day": "2026-03-10",
                      "last_day": "2026-03-12", "note": "for shelves"}),
    "loan.approve": approve(),
    "loan.decline": m("mona", "loan.decline", {"id": "loan-1", "reason": "away"}),
    "loan.cancel": m("lea", "loan.cancel", {"id": "loan-1"}),
    "loan.hand_over": [approve(), hand()],
    "loan.return": [approve(), hand(), m("mona", "loan.return", {"id": "loan-1"})],
    "stall.open": m("tom", "stall.open", stall),
    "stall.edit": m("tom", "stall.edit", dict(stall, id="stall-1")),
    "product.add": m("tom", "product.add", {"id": "prod-2", "stall_id": "stall-1", "name": "Apples",
                     "unit": "kg", "price_cents": 320, "stock": 40, "available_today": True}),
    "product.edit": m("tom", "product.edit", {"id": "prod-1", "name": "Leeks", "unit": "kg"}),
    "product.set_price": m("tom", "product.set_price", {"id": "prod-1", "price_cents": 275}),
    "product.set_available_today": m("tom", "product.set_available_today", {"id": "prod-1", "available": False}),
    "product.adjust_stock": [confirm(), m("tom", "product.adjust_stock", {"id": "prod-1", "delta": -8})],
    "product.stocktake": [confirm(), m("tom", "product.stocktake", {"id": "prod-1", "count": 2})],
    "product.remove": m("tom", "product.remove", {"id": "prod-1"}),
    "order.place": m("mona", "order.place", {"id": "order-2", "stall_id": "stall-1",
                     "lines": [{"product_id": "prod-1", "quantity": 8}], "pickup_day": "2026-03-07",
                     "note": ""}),
    "order.confirm": confirm(),
    "order.decline": m("tom", "order.decline", {"id": "order-1", "reason": "sold out"}),
    "order.ready": [confirm(), ready()],
    "order.collect": [confirm(), ready(), m("tom", "order.collect", {"id": "order-1"})],
    "order.cancel": [confirm(), m("lea", "order.cancel", {"id": "order-1"})],
    "message.send": m("lea", "message.send", {"id": "msg-1", "thread": {"kind": "loan", "id": "loan-1"},
                      "body": "Can I pick it up at 6?"}),
}
for name, value in corpus.items():
    with open(os.path.join(here, "corpus", "mutation", name + ".json"), "w") as f:
        json.dump(value, f, ensure_ascii=False)
        f.write("\n")

# The request target: the first byte picks the endpoint (see quartier_server::fuzz::Endpoint::ALL:
# register, devices, join, push, pull, push gzip, list devices, remove a device), the rest is the body.
REGISTER, DEVICES, JOIN, PUSH, PULL = b"\x00", b"\x01", b"\x02", b"\x03", b"\x04"
LIST_DEVICES, REMOVE_DEVICE = b"\x06", b"\x07"
def push_of(ms):
    return json.dumps({"mutations": ms if isinstance(ms, list) else [ms]}, ensure_ascii=False).encode()
requests = {
    "register": REGISTER + b'{"device_id":"zed-phone","person_id":"zed"}',
    "register-nul": REGISTER + b'{"device_id":"zed\\u0000","person_id":"zed"}',
    "devices": DEVICES + b'{"device_id":"fuzz-tablet"}',
    "join": JOIN + b'{"code":"plum tree 42","display_name":"Zed"}',
    "pull": PULL + b"after=0&limit=10",
    "pull-huge": PULL + b"after=18446744073709551615&limit=4294967295",
    "devices-list": LIST_DEVICES,
    "devices-remove": REMOVE_DEVICE + b"fuzz-tablet",
    "push-empty": PUSH + b'{"mutations":[]}',
    "push-deep": PUSH + b"[" * 4000 + b"]" * 4000,
    "push-invalid-utf8": PUSH + b'{"mutations":[{"neighbourhood_id":"\xff\xfe"}]}',
}
for name, value in corpus.items():
    # As the harness's device: author fuzz, its device, in order from seq 2.
    ms = value if isinstance(value, list) else [value]
    fixed = [dict(x, author="fuzz", device_id="fuzz-phone", seq=2 + i) for i, x in enumerate(ms)]
    requests["push-" + name] = PUSH + push_of(fixed)
for name, value in requests.items():
    with open(os.path.join(here, "corpus", "request", name), "wb") as f:
        f.write(value)

# A libFuzzer dictionary for both targets (`-dict=quartier.dict`, as scripts/fuzz.sh runs them): every
# field name and short text of the corpus, the enums' values, the pull's parameters and numbers at the
# limits of their types, so that mutations splice whole names instead of guessing them byte by byte.
tokens = set()
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            tokens.add(json.dumps(k))
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
    elif isinstance(v, str) and len(v) <= 24:
        tokens.add(json.dumps(v, ensure_ascii=False))
walk(list(corpus.values()))
walk([json.loads(b[1:]) for k, b in requests.items()
      if b[:1] not in (PULL, LIST_DEVICES, REMOVE_DEVICE) and k not in ("push-deep", "push-invalid-utf8")])
for word in ["member", "trader", "moderator", "ask", "offer", "new", "good", "fair", "worn", "favour",
             "loan", "order", "gap", "seq_reused"]:
    tokens.add(json.dumps(word))
tokens.update(["after=", "limit=", "null", "true", "false", "-1", "0", "9223372036854775807",
               "-9223372036854775808", "18446744073709551615", "4294967295", "2199-12-31", "1e308"])
def escape(token):
    return "".join("\\" + chr(b) if b in (0x22, 0x5c) else chr(b) if 32 <= b < 127 else "\\x%02x" % b
                   for b in token.encode())
with open(os.path.join(here, "quartier.dict"), "w") as f:
    f.write("# Written by make_corpus.py: field names, ids, operation names and limits for libFuzzer's -dict.\n")
    for token in sorted(tokens):
        f.write('"%s"\n' % escape(token))
