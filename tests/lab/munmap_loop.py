"""Map, touch and unmap anonymous memory until killed: every unmap frees its
pages through release_pages() (tests/lab/text-poke-stress.sh)."""
import mmap

SIZE = 1 << 16


def main():
    while True:
        m = mmap.mmap(-1, SIZE)
        m.write(b"\1" * SIZE)
        m.close()


if __name__ == "__main__":
    main()
