import socket, sys
class C:
    def __init__(s, port):
        s.s = socket.create_connection(("127.0.0.1", port)); s.buf = b""
        s.cmd(["HELLO", "3"])
    def send(s, args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.s.sendall(out)
    def line(s):
        while b"\r\n" not in s.buf: s.buf += s.s.recv(65536)
        l, s.buf = s.buf.split(b"\r\n", 1); return l
    def exact(s, n):
        while len(s.buf) < n + 2: s.buf += s.s.recv(65536)
        d, s.buf = s.buf[:n], s.buf[n+2:]; return d
    def read(s):
        l = s.line(); t, r = l[:1], l[1:]
        if t == b"+": return "+" + r.decode()
        if t == b"-": return "-" + r.decode()
        if t == b":": return ":" + r.decode()
        if t == b"_": return "_"
        if t == b",": return "," + r.decode()
        if t == b"#": return "#" + r.decode()
        if t == b"$":
            n = int(r); 
            if n < 0: return "_"
            return "$" + repr(s.exact(n))[2:-1]
        if t in (b"*", b"~", b">"):
            n = int(r)
            if n < 0: return "_"
            return "[" + ",".join(s.read() for _ in range(n)) + "]"
        if t == b"%":
            n = int(r); return "{" + ",".join(s.read() + ":" + s.read() for _ in range(n)) + "}"
        raise Exception(l)
    def cmd(s, args):
        s.send(args); return s.read()
if __name__ == "__main__":
    import shlex
    c = C(int(sys.argv[1]))
    for line in open(sys.argv[2]):
        line = line.rstrip("\n")
        if not line or line.startswith("#"): continue
        print(line + "\t" + c.cmd(shlex.split(line)))
