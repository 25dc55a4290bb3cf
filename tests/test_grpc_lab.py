"""helpers.grpc_lab: a .proto compiled at run time, served on 127.0.0.1."""

from __future__ import annotations

import socket
import threading

import grpc
import pytest

from helpers.grpc_lab import compile_proto, running, serve_grpc, stop_all

PROTO = """
syntax = "proto3";
package echo;
service Echo { rpc Say (Note) returns (Note); rpc Count (Note) returns (stream Note); }
message Note { string text = 1; int32 n = 2; }
"""


@pytest.fixture(scope="module")
def modules():
    return compile_proto(PROTO, "echo")


@pytest.fixture(autouse=True)
def _stop_servers():
    yield
    stop_all()


def make_servicer(pb2, pb2_grpc):
    class Echo(pb2_grpc.EchoServicer):
        def Say(self, request, context):
            if not request.text:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "empty")
            return pb2.Note(text=request.text.upper())

        def Count(self, request, context):
            for i in range(request.n):
                yield pb2.Note(text=request.text, n=i)

    return Echo()


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_compile_proto_makes_messages_and_stubs(modules, tmp_path):
    pb2, pb2_grpc = modules
    assert pb2.Note(text="a", n=3).SerializeToString() == b"\n\x01a\x10\x03"
    assert hasattr(pb2_grpc, "EchoStub") and hasattr(pb2_grpc, "add_EchoServicer_to_server")
    again = compile_proto(PROTO, "echo", out_dir=tmp_path)  # a re-run cell
    assert (tmp_path / "echo_pb2.py").exists() and again[0].Note(text="b").text == "b"


def test_compile_proto_reports_a_broken_proto(tmp_path, capfd):
    with pytest.raises(ValueError, match="could not compile"):
        compile_proto("syntax = 'proto3'; message {", "broken", out_dir=tmp_path)
    capfd.readouterr()  # protoc explains on stderr, which is what a learner needs here


def test_unary_and_streaming_calls_and_status_codes(modules):
    pb2, pb2_grpc = modules
    server = serve_grpc(pb2_grpc.add_EchoServicer_to_server, make_servicer(pb2, pb2_grpc), "echo")
    assert server.target.startswith("127.0.0.1:") and server.port > 0
    with grpc.insecure_channel(server.target) as channel:
        stub = pb2_grpc.EchoStub(channel)
        assert stub.Say(pb2.Note(text="hi"), timeout=5).text == "HI"
        assert [n.n for n in stub.Count(pb2.Note(text="x", n=3), timeout=5)] == [0, 1, 2]
        with pytest.raises(grpc.RpcError) as error:
            stub.Say(pb2.Note(), timeout=5)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_rerunning_the_start_cell_ten_times_leaks_no_port_or_thread(modules):
    pb2, pb2_grpc = modules
    first = serve_grpc(pb2_grpc.add_EchoServicer_to_server, make_servicer(pb2, pb2_grpc), "echo")
    ports = [first.port]
    threads_before = threading.active_count()
    for _ in range(10):
        server = serve_grpc(pb2_grpc.add_EchoServicer_to_server, make_servicer(pb2, pb2_grpc), "echo")
        ports.append(server.port)
    assert list(running()) == ["echo"] and running()["echo"] is server
    assert all(port_is_free(p) for p in ports[:-1]), "every replaced server released its port"
    assert not port_is_free(ports[-1])
    assert threading.active_count() <= threads_before + 2
    with grpc.insecure_channel(server.target) as channel:
        assert pb2_grpc.EchoStub(channel).Say(pb2.Note(text="ok"), timeout=5).text == "OK"
    server.stop()
    server.stop()
    assert running() == {} and port_is_free(ports[-1])
