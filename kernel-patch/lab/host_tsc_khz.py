"""The host's TSC rate in kHz, measured against CLOCK_MONOTONIC (vm.sh's host_tsc_khz()).

Without -icount, QEMU's TCG rdtsc returns the host's TSC, and QEMU's virtual clock (so the
guest's HPET) follows CLOCK_MONOTONIC; this compares exactly those two.  At each end of a
0.2 s gap it keeps the tightest of 200 bracketed (monotonic, rdtsc, monotonic) reads, so a
loaded host costs precision only if every one of them is interrupted.  x86_64 only.
Prints the rate, or nothing with exit status 1 when both brackets stayed wider than 20 us."""
import ctypes
import mmap
import sys
import time

# rdtsc; shl $32,%rdx; or %rdx,%rax; ret
RDTSC_CODE = bytes.fromhex("0f31" "48c1e220" "4809d0" "c3")
TRIES = 200
GAP_S = 0.2
MAX_WINDOW_NS = 20000


def rdtsc_function():
    buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    buf.write(RDTSC_CODE)
    fn = ctypes.CFUNCTYPE(ctypes.c_uint64)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))
    fn.buf = buf            # keep the code page mapped as long as the function lives
    return fn


def tightest(rdtsc, tries=TRIES, clock=time.clock_gettime_ns):
    """(window ns, mid ns, tsc) of the tightest of `tries` bracketed reads."""
    best = None
    for _ in range(tries):
        a = clock(time.CLOCK_MONOTONIC)
        t = rdtsc()
        b = clock(time.CLOCK_MONOTONIC)
        if best is None or b - a < best[0]:
            best = (b - a, (a + b) // 2, t)
    return best


def rate_khz(first, second, max_window_ns=MAX_WINDOW_NS):
    """kHz from two tightest() results, or None when either bracket is too wide."""
    (w1, n1, t1), (w2, n2, t2) = first, second
    if max(w1, w2) >= max_window_ns or n2 <= n1:
        return None
    return (t2 - t1) * 1000000 // (n2 - n1)


def main():
    rdtsc = rdtsc_function()
    first = tightest(rdtsc)
    time.sleep(GAP_S)
    khz = rate_khz(first, tightest(rdtsc))
    if khz is None:
        return 1
    print(khz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
