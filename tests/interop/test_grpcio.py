#!/usr/bin/python3
"""Interop with a gRPC implementation no one here wrote: Debian's python3-grpcio.

Python is the client against Berth's server (berth-echo serve, and berthd itself), and the
server against Berth's client (berth-echo client). Run from the project root:
    /usr/bin/python3 tests/interop/test_grpcio.py   (Debian's python, which has grpcio)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent import futures

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("BERTH_BUILD_DIR", os.path.join(ROOT, "build")))
TMP = tempfile.mkdtemp(prefix="berth-grpcio-")


def generate_python_stubs():
    """Message classes from our own .proto files, with Debian's protoc."""
    out = os.path.join(TMP, "py")
    os.makedirs(out)
    # Each generated flat, as <name>_pb2: a grpc/ package path would shadow grpcio itself.
    protos = [
        ("lib/rpc/testdata", "echo.proto"),
        ("proto/containerd/services/version/v1", "version.proto"),
        ("proto/grpc/health/v1", "health.proto"),
    ]
    for base, name in protos:
        subprocess.run(["protoc", "-I", os.path.join(ROOT, base), "-I", "/usr/include",
                        "--python_out=" + out, os.path.join(ROOT, base, name)], check=True)
    sys.path.insert(0, out)


generate_python_stubs()
import echo_pb2  # noqa: E402
import health_pb2  # noqa: E402
import version_pb2  # noqa: E402

SVC = "/berth.test.v1.Echo/"
MiB = 1 << 20


def wait_for_socket(path, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise RuntimeError("server exited with %d" % proc.returncode)
        time.sleep(0.02)
    raise RuntimeError("socket %s did not appear" % path)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


class EchoStubs:
    def __init__(self, channel):
        req = echo_pb2.EchoRequest.SerializeToString
        resp = echo_pb2.EchoResponse.FromString
        self.unary = channel.unary_unary(SVC + "Unary", req, resp)
        self.client_stream = channel.stream_unary(SVC + "ClientStream", req, resp)
        self.server_stream = channel.unary_stream(SVC + "ServerStream", req, resp)
        self.bidi = channel.stream_stream(SVC + "Bidi", req, resp)
        self.nope = channel.unary_unary(SVC + "Nope", req, resp)


class PythonClientBerthServer(unittest.TestCase):
    """grpcio as the client of Berth's gRPC server."""

    @classmethod
    def setUpClass(cls):
        cls.sock = os.path.join(TMP, "echo.sock")
        cls.proc = subprocess.Popen([os.path.join(BUILD, "tests/interop/berth-echo"), "serve",
                                     cls.sock])
        wait_for_socket(cls.sock, cls.proc)
        cls.channel = grpc.insecure_channel(
            "unix://" + cls.sock,
            options=[("grpc.max_receive_message_length", 64 * MiB)])
        cls.stubs = EchoStubs(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        stop(cls.proc)

    def test_unary_and_metadata_both_ways(self):
        resp, call = self.stubs.unary.with_call(
            echo_pb2.EchoRequest(message="hi", metadata_key="x-test"),
            metadata=[("x-test", "from-python")], timeout=5)
        self.assertEqual(resp.message, "hi")
        self.assertEqual(resp.metadata_value, "from-python")
        self.assertIn(("echo-header", "h"), call.initial_metadata())
        self.assertIn(("echo-trailer", "t"), call.trailing_metadata())

    def test_error_status_with_message(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stubs.unary(echo_pb2.EchoRequest(fail_code=9, fail_message="lease l1: conflict"),
                             timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(cm.exception.details(), "lease l1: conflict")

    def test_non_ascii_message(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stubs.unary(echo_pb2.EchoRequest(fail_code=5, fail_message="naïve 100%: not found"),
                             timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(cm.exception.details(), "naïve 100%: not found")

    def test_unknown_method(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stubs.nope(echo_pb2.EchoRequest(), timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)

    def test_client_streaming_50_mib(self):
        chunks = (echo_pb2.EchoRequest(payload=b"\x01" * MiB) for _ in range(50))
        resp = self.stubs.client_stream(chunks, timeout=60)
        self.assertEqual(resp.total_bytes, 50 * MiB)
        self.assertEqual(resp.count, 50)

    def test_server_streaming_50_mib(self):
        got = 0
        for i, resp in enumerate(self.stubs.server_stream(
                echo_pb2.EchoRequest(count=50, response_size=MiB), timeout=60)):
            self.assertEqual(resp.index, i)
            got += len(resp.payload)
        self.assertEqual(got, 50 * MiB)

    def test_bidi_streaming(self):
        def requests():
            for i in range(100):
                yield echo_pb2.EchoRequest(message="m%d" % i)
        replies = [r.message for r in self.stubs.bidi(requests(), timeout=30)]
        self.assertEqual(replies, ["m%d" % i for i in range(100)])

    def test_deadline_expiry(self):
        start = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            self.stubs.unary(echo_pb2.EchoRequest(sleep_ms=5000), timeout=0.3)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.monotonic() - start, 4.5)

    def test_server_stream_cancelled_midway(self):
        it = self.stubs.server_stream(echo_pb2.EchoRequest(count=1000, sleep_ms=20), timeout=30)
        next(it)
        it.cancel()
        with self.assertRaises(grpc.RpcError) as cm:
            for _ in it:
                pass
        self.assertEqual(cm.exception.code(), grpc.StatusCode.CANCELLED)
        # the server keeps serving
        self.assertEqual(self.stubs.unary(echo_pb2.EchoRequest(message="ok"), timeout=5).message,
                         "ok")

    def test_message_over_limit(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stubs.unary(echo_pb2.EchoRequest(payload=b"\0" * (17 * MiB)), timeout=30)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(self.stubs.unary(echo_pb2.EchoRequest(message="after"), timeout=5).message,
                         "after")

    def test_many_concurrent_calls(self):
        errors = []

        def worker():
            try:
                for i in range(30):
                    r = self.stubs.unary(echo_pb2.EchoRequest(message=str(i)), timeout=10)
                    assert r.message == str(i)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


class PythonClientBerthd(unittest.TestCase):
    """grpcio against berthd's real services."""

    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(TMP, "berthd")
        cls.sock = os.path.join(cls.dir, "state", "berth.sock")
        os.makedirs(cls.dir)
        with open(os.path.join(cls.dir, "config.toml"), "w") as f:
            f.write("version = 3\n")
        cls.proc = subprocess.Popen(
            [os.path.join(BUILD, "cmd/berthd/berthd"), "--root", os.path.join(cls.dir, "root"),
             "--state", os.path.join(cls.dir, "state"), "--address", cls.sock,
             "--config", os.path.join(cls.dir, "config.toml")],
            stderr=subprocess.DEVNULL)
        wait_for_socket(cls.sock, cls.proc)
        cls.channel = grpc.insecure_channel("unix://" + cls.sock)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        stop(cls.proc)

    def test_version(self):
        version = self.channel.unary_unary(
            "/containerd.services.version.v1.Version/Version",
            lambda _: b"", version_pb2.VersionResponse.FromString)
        resp = version(None, timeout=5, metadata=[("containerd-namespace", "default")])
        self.assertTrue(resp.version.startswith("v2.0.0+berth."))
        self.assertTrue(resp.revision)

    def test_health_check_and_watch(self):
        check = self.channel.unary_unary(
            "/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest.SerializeToString,
            health_pb2.HealthCheckResponse.FromString)
        self.assertEqual(check(health_pb2.HealthCheckRequest(), timeout=5).status,
                         health_pb2.HealthCheckResponse.SERVING)
        with self.assertRaises(grpc.RpcError) as cm:
            check(health_pb2.HealthCheckRequest(service="nope"), timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        watch = self.channel.unary_stream(
            "/grpc.health.v1.Health/Watch", health_pb2.HealthCheckRequest.SerializeToString,
            health_pb2.HealthCheckResponse.FromString)
        it = watch(health_pb2.HealthCheckRequest(), timeout=0.5)
        self.assertEqual(next(it).status, health_pb2.HealthCheckResponse.SERVING)
        with self.assertRaises(grpc.RpcError) as cm:
            next(it)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)


class PythonEcho:
    """The Echo service in Python, for Berth's client."""

    def unary(self, req, ctx):
        if req.sleep_ms:
            time.sleep(req.sleep_ms / 1000)
        if req.fail_code:
            ctx.abort(grpc.StatusCode(next(c for c in grpc.StatusCode
                                           if c.value[0] == req.fail_code)), req.fail_message)
        md = dict(ctx.invocation_metadata())
        ctx.send_initial_metadata([("echo-header", "h")])
        ctx.set_trailing_metadata([("echo-trailer", "t")])
        return echo_pb2.EchoResponse(message=req.message,
                                     metadata_value=md.get(req.metadata_key, ""))

    def client_stream(self, it, ctx):
        total = count = 0
        for req in it:
            total += len(req.payload)
            count += 1
        return echo_pb2.EchoResponse(total_bytes=total, count=count)

    def server_stream(self, req, ctx):
        for i in range(req.count):
            yield echo_pb2.EchoResponse(index=i, payload=b"\0" * req.response_size)

    def bidi(self, it, ctx):
        for i, req in enumerate(it):
            yield echo_pb2.EchoResponse(message=req.message, index=i)


class BerthClientPythonServer(unittest.TestCase):
    """Berth's gRPC client against grpcio's server."""

    def test_all_client_scenarios(self):
        sock = os.path.join(TMP, "py.sock")
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                             options=[("grpc.max_send_message_length", 64 * MiB)])
        e = PythonEcho()
        req = echo_pb2.EchoRequest.FromString
        resp = echo_pb2.EchoResponse.SerializeToString
        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(e.unary, req, resp),
            "ClientStream": grpc.stream_unary_rpc_method_handler(e.client_stream, req, resp),
            "ServerStream": grpc.unary_stream_rpc_method_handler(e.server_stream, req, resp),
            "Bidi": grpc.stream_stream_rpc_method_handler(e.bidi, req, resp),
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("berth.test.v1.Echo", handlers),))
        server.add_insecure_port("unix://" + sock)
        server.start()
        try:
            out = subprocess.run([os.path.join(BUILD, "tests/interop/berth-echo"), "client", sock],
                                 capture_output=True, text=True, timeout=120)
        finally:
            server.stop(1)
        sys.stderr.write(out.stderr)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(" 0 failed", out.stdout)


if __name__ == "__main__":
    try:
        result = unittest.main(exit=False, verbosity=2).result
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(0 if result.wasSuccessful() else 1)
