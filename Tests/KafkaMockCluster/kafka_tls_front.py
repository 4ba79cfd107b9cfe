"""A TLS front for librdkafka's mock cluster, which speaks only plain TCP, so tests can reach
Kafka over TLS: one TLS listener on 127.0.0.1 per mock broker, each relaying to its broker.

    python3 kafka_tls_front.py CERT KEY HOST:PORT[,HOST:PORT...]

Prints "bootstrap 127.0.0.1:P1,..." once listening (the fronts, in the brokers' order) and runs
until stdin closes. Kafka clients learn broker addresses from Metadata and FindCoordinator
responses, so the ports in those are rewritten to the fronts' (same size, in place); every
other byte passes through unchanged.
"""
import asyncio
import ssl
import struct
import sys

METADATA, FIND_COORDINATOR = 3, 10


def uvarint(buf, pos):
    shift = value = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def skip_string(buf, pos, compact):
    if compact:
        length, pos = uvarint(buf, pos)
        return pos + max(length - 1, 0)
    (length,) = struct.unpack_from(">h", buf, pos)
    return pos + 2 + max(length, 0)


def skip_tags(buf, pos):
    count, pos = uvarint(buf, pos)
    for _ in range(count):
        _, pos = uvarint(buf, pos)
        size, pos = uvarint(buf, pos)
        pos += size
    return pos


def swap_port(buf, pos, ports):
    (port,) = struct.unpack_from(">i", buf, pos)
    if port in ports:
        struct.pack_into(">i", buf, pos, ports[port])
    return pos + 4


def rewrite(api, version, buf, ports):
    """Rewrites the broker ports of a response (buf starts at the correlation id)."""
    pos = 4
    if api == METADATA:
        flexible = version >= 9
        if flexible:
            pos = skip_tags(buf, pos)
        if version >= 3:
            pos += 4  # throttle_time_ms
        if flexible:
            count, pos = uvarint(buf, pos)
            count -= 1
        else:
            (count,) = struct.unpack_from(">i", buf, pos)
            pos += 4
        for _ in range(max(count, 0)):
            pos += 4  # node_id
            pos = skip_string(buf, pos, flexible)
            pos = swap_port(buf, pos, ports)
            if version >= 1:
                pos = skip_string(buf, pos, flexible)  # rack
            if flexible:
                pos = skip_tags(buf, pos)
    elif api == FIND_COORDINATOR:
        if version >= 4:
            raise ValueError("FindCoordinator v4 (batched) is not handled")
        flexible = version >= 3
        if flexible:
            pos = skip_tags(buf, pos)
        if version >= 1:
            pos += 4  # throttle_time_ms
        pos += 2  # error_code
        if version >= 1:
            pos = skip_string(buf, pos, flexible)  # error_message
        pos += 4  # node_id
        pos = skip_string(buf, pos, flexible)
        swap_port(buf, pos, ports)


async def frames(reader):
    while True:
        head = await reader.readexactly(4)
        (length,) = struct.unpack(">i", head)
        yield bytearray(await reader.readexactly(length))


async def relay(client_reader, client_writer, broker, ports):
    host, port = broker
    try:
        broker_reader, broker_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    asked = {}

    async def requests():
        async for frame in frames(client_reader):
            api, version, correlation = struct.unpack_from(">hhi", frame, 0)
            asked[correlation] = (api, version)
            broker_writer.write(struct.pack(">i", len(frame)) + frame)
            await broker_writer.drain()

    async def responses():
        async for frame in frames(broker_reader):
            (correlation,) = struct.unpack_from(">i", frame, 0)
            api, version = asked.pop(correlation, (None, None))
            if api in (METADATA, FIND_COORDINATOR):
                rewrite(api, version, frame, ports)
            client_writer.write(struct.pack(">i", len(frame)) + frame)
            await client_writer.drain()

    tasks = [asyncio.ensure_future(requests()), asyncio.ensure_future(responses())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for writer in (client_writer, broker_writer):
            writer.close()


async def main(cert, key, bootstrap):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    brokers = []
    for address in bootstrap.split(","):
        host, port = address.rsplit(":", 1)
        brokers.append((host, int(port)))
    ports, servers, fronts = {}, [], []
    for broker in brokers:
        server = await asyncio.start_server(
            lambda r, w, broker=broker: relay(r, w, broker, ports), "127.0.0.1", 0, ssl=context)
        front = server.sockets[0].getsockname()[1]
        ports[broker[1]] = front
        servers.append(server)
        fronts.append("127.0.0.1:%d" % front)
    print("bootstrap " + ",".join(fronts), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
