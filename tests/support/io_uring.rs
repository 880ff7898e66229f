//! `io_uring` rings built by hand in Python (ctypes), as a payload without liburing would: for the
//! tests that submit operations through one (`visibility_iouring`, `vm_deny`).

/// Python: a hand-built `io_uring` (`ring(flags)`), and `submit(ring, sqe)` that queues one entry,
/// enters the kernel if needed and returns its completion's result.
pub const RING: &str = r#"
import ctypes, mmap, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SETUP, ENTER = 425, 426
IORING_SETUP_SQPOLL, IORING_ENTER_GETEVENTS, IORING_ENTER_SQ_WAKEUP = 2, 1, 2
IORING_OP_OPENAT, IORING_OP_CONNECT, IORING_OP_RENAMEAT, IORING_OP_NOP = 18, 16, 35, 0
class Ring:
    def __init__(self, flags=0, entries=8):
        self.params = ctypes.create_string_buffer(120)
        struct.pack_into("I", self.params, 8, flags)
        self.fd = libc.syscall(SETUP, entries, self.params)
        assert self.fd >= 0, ctypes.get_errno()
        p = self.params.raw
        self.sq_entries, self.cq_entries = struct.unpack_from("II", p, 0)
        sq = struct.unpack_from("IIIIIIII", p, 40)
        cq = struct.unpack_from("IIIIIIII", p, 80)
        self.sq_head, self.sq_tail, self.sq_mask, _, self.sq_flags, _, self.sq_array = sq[:7]
        self.cq_head, self.cq_tail, self.cq_mask, _, _, self.cqes = cq[:6]
        self.sq = mmap.mmap(self.fd, self.sq_array + 4 * self.sq_entries, offset=0)
        self.cq = mmap.mmap(self.fd, self.cqes + 16 * self.cq_entries, offset=0x8000000)
        self.sqes = mmap.mmap(self.fd, 64 * self.sq_entries, offset=0x10000000)
        self.flags = flags
        self.keep = []
    def submit(self, opcode, fd=0, addr=0, length=0, op_flags=0, off=0, user_data=1):
        tail = struct.unpack_from("I", self.sq, self.sq_tail)[0]
        i = tail & self.sq_mask
        sqe = struct.pack("BBHiQQIIQHHiQQ", opcode, 0, 0, fd, off, addr, length, op_flags, user_data, 0, 0, 0, 0, 0)
        self.sqes[64 * i: 64 * i + 64] = sqe
        struct.pack_into("I", self.sq, self.sq_array + 4 * i, i)
        struct.pack_into("I", self.sq, self.sq_tail, tail + 1)
        if self.flags & IORING_SETUP_SQPOLL:
            # No syscall per operation: the kernel thread picks it up (woken only if it slept).
            if struct.unpack_from("I", self.sq, self.sq_flags)[0] & 1:
                libc.syscall(ENTER, self.fd, 0, 0, IORING_ENTER_SQ_WAKEUP, None, 0)
        else:
            assert libc.syscall(ENTER, self.fd, 1, 1, IORING_ENTER_GETEVENTS, None, 0) == 1, ctypes.get_errno()
        for _ in range(5000):
            head = struct.unpack_from("I", self.cq, self.cq_head)[0]
            if struct.unpack_from("I", self.cq, self.cq_tail)[0] != head:
                break
            time.sleep(0.001)
        else:
            raise SystemExit("no completion")
        res = struct.unpack_from("Qi", self.cq, self.cqes + 16 * (head & self.cq_mask))[1]
        struct.pack_into("I", self.cq, self.cq_head, head + 1)
        return res
    def path(self, p):
        b = ctypes.create_string_buffer(p.encode())
        self.keep.append(b)
        return ctypes.addressof(b)
"#;
