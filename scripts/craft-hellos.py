#!/usr/bin/env python3
"""Writes the crafted ClientHello corpus, tests/data/hello-crafted/.

One NAME.bin (the client-to-server stream bytes) and one NAME.expect per
case: at least one stream per refusal code of inspect/rw_tls_hello.h, and
valid edge cases (no SNI, no extensions, GREASE everywhere, ECH/ESNI, GREASE
ECH as browsers send it, many
ALPN ids, 512 ciphers, 1- and 7-byte records, a record after the hello).
tests/unit/test_tls_hello.c feeds every file whole, byte by byte and split
at every offset, re-frames the handshake message into other record sizes,
and checks the .expect.

The expectations come from what this script put into the bytes, not from
regwall's parser; JA4 is computed here from the fields it built, the way
scripts/capture-hellos.sh computes it from tshark's fields (the JA4 spec's
worked example is one of the cases, so a slip here shows at once).

Deterministic: no randomness, no clock; running it twice gives the same
bytes. Usage: scripts/craft-hellos.py [OUTDIR]  (default tests/data/hello-crafted)
"""
import hashlib
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/data/hello-crafted"

# ---- wire helpers (RFC 8446 4.1.2; RFC 6066 3; RFC 7301 3.1) ----


def u8(v):
    return struct.pack("!B", v)


def u16(v):
    return struct.pack("!H", v)


def u24(v):
    return struct.pack("!I", v)[1:]


def vec8(b):
    return u8(len(b)) + b


def vec16(b):
    return u16(len(b)) + b


def grease(v):
    return (v & 0x0f0f) == 0x0a0a and (v >> 8) == (v & 0xff)


class Ext:
    """One extension, and what JA4 and the expectations need from it."""

    def __init__(self, etype, data):
        self.type, self.data = etype, data

    def wire(self):
        return u16(self.type) + vec16(self.data)


def ext_sni(*names):
    body = b"".join(u8(0) + vec16(n) for n in names)
    return Ext(0x0000, vec16(body))


def ext_alpn(*ids):
    return Ext(0x0010, vec16(b"".join(vec8(i) for i in ids)))


def ext_versions(*vs):
    return Ext(0x002b, vec8(b"".join(u16(v) for v in vs)))


def ext_u16list(etype, vs):
    return Ext(etype, vec16(b"".join(u16(v) for v in vs)))


RANDOM = bytes(range(32))   # fixed: the corpus must not change between runs
SESSION = bytes(range(0x40, 0x60))


class Hello:
    def __init__(self, ciphers, exts=None, legacy=0x0303, sid=SESSION, comp=b"\x00"):
        self.ciphers, self.exts, self.legacy, self.sid, self.comp = ciphers, exts, legacy, sid, comp

    def body(self):
        b = u16(self.legacy) + RANDOM + vec8(self.sid)
        b += vec16(b"".join(u16(c) for c in self.ciphers)) + vec8(self.comp)
        if self.exts is not None:
            b += vec16(b"".join(e.wire() for e in self.exts))
        return b

    def msg(self):
        body = self.body()
        return u8(1) + u24(len(body)) + body

    # -- what a correct parser reports (fields of struct rw_tls_hello) --
    def ext(self, etype):
        for e in self.exts or []:
            if e.type == etype:
                return e
        return None

    def fields(self):
        exts = [e.type for e in self.exts or [] if not grease(e.type)]
        ciphers = [c for c in self.ciphers if not grease(c)]
        sv = self.ext(0x002b)
        versions = []
        if sv:
            raw = sv.data[1:]
            versions = [v for v in struct.unpack("!%dH" % (len(raw) // 2), raw) if not grease(v)]
        version = max(versions) if versions else self.legacy
        sni = self.ext(0x0000)
        name = sni.data[5:].decode("ascii").lower() if sni else ""
        alpn_ids = []
        al = self.ext(0x0010)
        if al:
            rest = al.data[2:]
            while rest:
                n = rest[0]
                alpn_ids.append(rest[1:1 + n])
                rest = rest[1 + n:]
        sig = self.ext(0x000d)
        sigalgs = []
        if sig:
            raw = sig.data[2:]
            sigalgs = [s for s in struct.unpack("!%dH" % (len(raw) // 2), raw) if not grease(s)]
        real_alpn = [a for a in alpn_ids if not (len(a) == 2 and grease(int.from_bytes(a, "big")))]
        return dict(
            sni=name or "-",
            # the parser stores the first RW_TLS_ALPN_MAX (8) ids, counts all
            alpn=",".join(a.decode("latin1") for a in real_alpn[:8]) or "-",
            alpn_total=len(real_alpn),
            versions=",".join("%04x" % v for v in versions[:16]) or "-",
            version="%04x" % version,
            ech=int(0xfe0d in exts),
            esni=int(0xffce in exts),
            ciphers=len(ciphers),
            extensions=len(exts),
            hello_len=len(self.msg()),
            check_sni="none" if name else "no_sni",
            ja4=ja4(version, 0x0000 in exts, ciphers, exts, alpn_ids[0] if alpn_ids else b"", sigalgs),
        )


def ja4(version, has_sni, ciphers, exts, alpn0, sigalgs):
    """FoxIO JA4 (TCP) from the built fields; GREASE already removed."""
    vmap = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2"}

    def alnum(c):
        return c < 0x80 and chr(c).isalnum()

    if not alpn0:
        ac = "00"
    elif alnum(alpn0[0]) and alnum(alpn0[-1]):
        ac = chr(alpn0[0]) + chr(alpn0[-1])
    else:
        h = alpn0.hex()
        ac = h[0] + h[-1]

    def h12(s):
        return hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"

    a = "t%s%s%02d%02d%s" % (vmap.get(version, "00"), "d" if has_sni else "i",
                             min(len(ciphers), 99), min(len(exts), 99), ac)
    b = h12(",".join("%04x" % c for c in sorted(ciphers)))
    ce = ",".join("%04x" % e for e in sorted(e for e in exts if e not in (0, 16)))
    if sigalgs:
        ce += "_" + ",".join("%04x" % s for s in sigalgs)
    return "%s_%s_%s" % (a, b, h12(ce))


def frame(msg, size=16384, ver=0x0301):
    """The handshake message as TLS records of at most 'size' payload bytes."""
    out = b""
    for i in range(0, len(msg), size):
        chunk = msg[i:i + size]
        out += u8(0x16) + u16(ver) + vec16(chunk)
    return out


# ---- the hellos ----

SPEC_CIPHERS = [0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
                0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035]
SPEC_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def spec_exts(sni=b"Registry.Example.TEST"):
    """The JA4 spec's worked example as extensions, with GREASE that must not count."""
    e = [Ext(0x1a1a, b""), Ext(0x001b, b"\x02\x00\x02")]
    if sni is not None:
        e.append(ext_sni(sni))
    e += [Ext(0x0033, b"\x00\x06\x00\x1d\x00\x02\xaa\xbb"), ext_alpn(b"h2", b"http/1.1"),
          Ext(0x4469, b"\x00\x03\x02h2"), Ext(0x0017, b""), Ext(0x002d, b"\x01\x01"),
          ext_u16list(0x000d, SPEC_SIGALGS), Ext(0x0005, b"\x01\x00\x00\x00\x00"),
          Ext(0x0023, b""), Ext(0x0012, b""), ext_versions(0x7a7a, 0x0304, 0x0303),
          Ext(0xff01, b"\x00"), Ext(0x000b, b"\x01\x00"),
          ext_u16list(0x000a, [0x2a2a, 0x001d, 0x0017]), Ext(0x0015, b"\x00\x00\x00"),
          Ext(0x5a5a, b"\x00")]
    return e


def spec(sni=b"Registry.Example.TEST", extra=()):
    return Hello(SPEC_CIPHERS, spec_exts(sni) + list(extra))


def small(exts=None, legacy=0x0303, ciphers=(0x1301,)):
    return Hello(list(ciphers), exts, legacy)


CASES = []  # (name, description, stream bytes, expect lines)


def ok(name, desc, hello, stream=None, consumed=None):
    s = stream if stream is not None else frame(hello.msg())
    f = hello.fields()
    lines = ["result ok"] + ["%s %s" % (k, f[k]) for k in
                             ("sni", "alpn", "alpn_total", "versions", "version", "ech", "esni",
                              "ciphers", "extensions", "hello_len", "check_sni", "ja4")]
    lines.append("consumed %d" % (consumed if consumed is not None else len(s)))
    CASES.append((name, desc, s, lines))


def refuse(name, desc, code, stream, reframe):
    """reframe 1: the refusal is about the handshake message, so any record
    framing of it (and the one-shot parser) must refuse the same way."""
    CASES.append((name, desc, stream, ["result refuse", "refuse %s" % code,
                                       "reframe %d" % int(reframe)]))


def refuse_msg(name, desc, code, hello_or_msg):
    msg = hello_or_msg.msg() if isinstance(hello_or_msg, Hello) else hello_or_msg
    refuse(name, desc, code, frame(msg), True)


def patch(msg, off, val):
    return msg[:off] + bytes([val]) + msg[off + 1:]


def build():
    # ---- valid edge cases ----
    ok("ok-ja4-spec", "the JA4 spec's worked example with GREASE cipher, extensions, "
       "version and group; mixed-case SNI (folded)", spec())
    ok("ok-no-sni", "spec example without server_name: OK for the parser, no_sni for "
       "rw_tls_hello_check_sni()", spec(None))
    ok("ok-legacy-no-extensions", "TLS 1.0 hello without an extensions block",
       small(None, 0x0301, (0x002f, 0x0035)))
    ok("ok-ech-esni-alpn", "ECH and draft ESNI present; a GREASE ALPN id first, then 9 "
       "real ids (8 stored)",
       small([ext_sni(b"public.example.test"),
              Ext(0xfe0d, b"\x00\x00\x01\x00\x01\x07\x00\x00\x00\x00"), Ext(0xffce, b"\x00"),
              ext_alpn(b"\x3a\x3a", *[bytes([c]) for c in b"abcdefghi"]),
              ext_versions(0x0304)]))
    # GREASE ECH as Chromium and Firefox send it to a server that publishes
    # no ECH config (draft-ietf-tls-esni §6.2): an outer ECHClientHello
    # (type 0, HKDF-SHA256, AES-128-GCM, a config id, a 32-byte X25519 enc,
    # a random-looking payload) next to the real SNI the server handshakes on.
    enc = bytes((i * 37 + 11) & 0xff for i in range(32))
    payload = bytes((i * 73 + 5) & 0xff for i in range(144))
    ech = u8(0) + u16(0x0001) + u16(0x0001) + u8(0x5c) + vec16(enc) + vec16(payload)
    ok("ok-grease-ech", "a Chromium-like hello with GREASE ECH (outer type, random enc and "
       "payload) and the real server name", Hello(
           [0x3a3a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f],
           [Ext(0x2a2a, b""), ext_sni(b"registry.example.test"), Ext(0x0017, b""),
            Ext(0xff01, b"\x00"), ext_u16list(0x000a, [0x4a4a, 0x001d, 0x0017]),
            Ext(0x000b, b"\x01\x00"), ext_alpn(b"h2", b"http/1.1"),
            ext_u16list(0x000d, [0x0403, 0x0804, 0x0401]),
            Ext(0x0033, vec16(u16(0x4a4a) + vec16(b"\x00") + u16(0x001d) + vec16(enc))),
            Ext(0x002d, b"\x01\x01"), ext_versions(0x5a5a, 0x0304, 0x0303),
            Ext(0xfe0d, ech), Ext(0x1a1a, b"\x00")]))
    ok("ok-label63", "a 63-byte DNS label, the longest allowed",
       small([ext_sni(b"a" * 63 + b".test")]))
    ok("ok-psk-last", "pre_shared_key as the last extension",
       spec(extra=[Ext(0x0029, b"\x00\x00")]))
    ok("ok-512-ciphers", "RW_TLS_MAX_CIPHERS cipher suites (JA4 count capped at 99)",
       small(None, 0x0303, range(0x1000, 0x1000 + 512)))
    h = spec(b"registry.example.test")
    ok("ok-7byte-records", "the spec hello in 7-byte records", h, frame(h.msg(), 7))
    h = Hello([0x1301], None, 0x0303, b"")
    ok("ok-1byte-records", "a 45-byte hello in 45 one-byte records (limit 64)", h,
       frame(h.msg(), 1))
    h = spec(b"registry.example.test")
    s = frame(h.msg())
    ok("ok-record-after", "an alert record after the hello's record: not the parser's, "
       "consumed stops before it", h, s + b"\x15\x03\x03\x00\x02\x01\x00", len(s))
    ok("ok-tls13-record-version", "record layer version 3.3 (clients may send 3.1 or 3.3)",
       h, frame(h.msg(), ver=0x0303))

    CASES.append(("more-truncated", "the spec hello without its last 10 bytes: no decision "
                  "yet", frame(h.msg())[:-10], ["result more"]))

    # ---- one stream (or more) per refusal code ----
    refuse("refuse-not-tls-http", "plain HTTP on a TLS port", "not_tls",
           b"GET /v2/ HTTP/1.1\r\nHost: registry.example.test\r\n\r\n", False)
    refuse("refuse-not-tls-record-version", "handshake record with version 3.9", "not_tls",
           b"\x16\x03\x09\x00\x10" + bytes(16), False)
    v2 = u8(1) + u16(0x0301) + u16(21) + u16(0) + u16(16) + bytes(range(21)) + bytes(16)
    refuse("refuse-sslv2-hello", "SSLv2-compatible ClientHello (2-byte header, msg 1)",
           "sslv2_hello", u16(0x8000 | len(v2)) + v2, False)
    refuse_msg("refuse-bad-version-legacy", "legacy_version 2.0", "bad_version",
               small(None, 0x0200))
    refuse_msg("refuse-bad-version-grease-only", "supported_versions holds only GREASE",
               "bad_version", small([ext_versions(0x0a0a, 0x1a1a)]))
    refuse("refuse-record-too-large", "record length 2^14 + 1", "record_too_large",
           b"\x16\x03\x01\x40\x01" + b"\x01" + bytes(64), False)
    refuse("refuse-empty-record", "zero-length handshake record", "empty_record",
           b"\x16\x03\x01\x00\x00", False)
    m = spec(b"registry.example.test").msg()
    refuse("refuse-interleaved-record", "an alert record between two records of the hello",
           "interleaved_record",
           frame(m[:40]) + b"\x15\x03\x03\x00\x02\x01\x00" + frame(m[40:]), False)
    refuse("refuse-too-many-records", "the spec hello in one-byte records (over 64)",
           "too_many_records", frame(m, 1), False)
    refuse("refuse-hello-too-large", "handshake length 16385, over the 16 KiB buffer",
           "hello_too_large", b"\x16\x03\x01\x00\x04\x01\x00\x40\x01", False)
    refuse("refuse-not-client-hello", "a ServerHello first", "not_client_hello",
           b"\x16\x03\x03\x00\x04\x02\x00\x00\x26", False)
    refuse("refuse-trailing-data", "a second handshake byte in the record that completes "
           "the hello", "trailing_data", u8(0x16) + u16(0x0303) + vec16(m + b"\x0b"), False)
    refuse("refuse-malformed-tiny", "a handshake length (16) too short for a hello",
           "malformed", b"\x16\x03\x01\x00\x04\x01\x00\x00\x10", False)
    base = small(None).msg()
    refuse_msg("refuse-malformed-odd-ciphers", "cipher_suites length 3", "malformed",
               patch(base, 4 + 2 + 32 + 1 + 32 + 1, 3))
    refuse_msg("refuse-malformed-no-null-compression", "compression methods without null",
               "malformed", patch(base, len(base) - 1, 1))
    refuse_msg("refuse-malformed-session-id-33", "legacy_session_id of 33 bytes", "malformed",
               Hello([0x1301], None, 0x0303, bytes(33)))
    ext_at = 4 + 2 + 32 + 1 + 32 + 2 + 32 + 2
    refuse_msg("refuse-malformed-ext-block-len", "extensions block length one short",
               "malformed", patch(m, ext_at + 1, m[ext_at + 1] - 1))
    refuse_msg("refuse-malformed-psk-not-last", "pre_shared_key before another extension",
               "malformed", spec(extra=[Ext(0x0029, b"\x00\x00"), Ext(0x0016, b"")]))
    refuse_msg("refuse-malformed-alpn-empty-id", "an empty ALPN protocol id", "malformed",
               small([Ext(0x0010, b"\x00\x04\x02h2\x00")]))
    refuse_msg("refuse-malformed-alpn-list-len", "ALPN list length shorter than the extension",
               "malformed", small([Ext(0x0010, b"\x00\x02\x02h2")]))
    refuse_msg("refuse-malformed-sni-empty-list", "server_name with an empty list",
               "malformed", small([Ext(0x0000, b"\x00\x00")]))
    refuse_msg("refuse-duplicate-extension", "extended_master_secret twice",
               "duplicate_extension", spec(extra=[Ext(0x0017, b"")]))
    refuse_msg("refuse-duplicate-sni", "two server_name extensions", "duplicate_extension",
               spec(extra=[ext_sni(b"other.example.test")]))
    refuse_msg("refuse-too-many-items", "513 cipher suites", "too_many_items",
               small(None, 0x0303, range(0x1000, 0x1000 + 513)))
    refuse_msg("refuse-multiple-names", "two host_name entries in one server_name",
               "multiple_names", small([ext_sni(b"abc", b"d")]))
    for nm, name in (("trailing-dot", b"registry.example.test."), ("ipv4", b"192.0.2.10"),
                     ("ipv6", b"2001:db8::1"), ("underscore", b"reg_istry.example.test"),
                     ("nul", b"reg\0istry.example.test"), ("label64", b"a" * 64 + b".test"),
                     ("empty", b"")):
        refuse_msg("refuse-bad-name-" + nm, "server_name %r" % name, "bad_name",
                   small([ext_sni(name)]))
    refuse_msg("refuse-bad-name-type", "server_name entry of name_type 1", "bad_name",
               small([Ext(0x0000, b"\x00\x06\x01\x00\x03abc")]))


def main():
    build()
    os.makedirs(OUT, exist_ok=True)
    names = set()
    for name, desc, stream, lines in CASES:
        assert name not in names, name
        names.add(name)
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(stream)
        with open(os.path.join(OUT, name + ".expect"), "w") as f:
            f.write("# crafted by scripts/craft-hellos.py: %s\n" % desc)
            f.write("\n".join(lines) + "\n")
    # files of cases that no longer exist would be tested forever: drop them
    for fn in sorted(os.listdir(OUT)):
        base = fn.rsplit(".", 1)[0]
        if fn.endswith((".bin", ".expect")) and base not in names:
            os.remove(os.path.join(OUT, fn))
    print("craft-hellos: %d cases written to %s" % (len(CASES), OUT))


if __name__ == "__main__":
    main()
