#!/usr/bin/env python3
"""Scales a MediaWiki dump excerpt up into a multi-stream .bz2 laid out as Wikimedia's
`pages-articles-multistream.xml.bz2`: the header (<mediawiki> and <siteinfo>) alone in the first
bzip2 stream, then 100 pages a stream, then `</mediawiki>` alone in the last one, each stream
compressed at level 9 as Wikimedia's are.

The complete pages of the excerpt (a page cut at its end is dropped) are repeated until the XML
reaches --min-mb. Titles and text are kept; each copy after the first adds k * 10,000,000 to the
page ids (copy k), so that passage ids stay distinct. Python's standard library only.

    make-multistream.py SRC.xml[.bz2] OUT.xml.bz2 [--min-mb 200] [--pages-per-stream 100]
"""

import argparse
import bz2
import multiprocessing
import re
import sys

PAGE_ID = re.compile(rb"(<id>)(\d+)(</id>)")
ID_STEP = 10_000_000


def read_xml(path):
    if path.endswith(".bz2"):
        # bz2.open reads every stream of a multi-stream file.
        with bz2.open(path, "rb") as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


def split_pages(xml):
    """The text before the first page, and every complete page (with its indentation)."""
    start = xml.find(b"  <page>")
    if start < 0:
        sys.exit("no <page> in the input")
    header, pages = xml[:start], []
    at = start
    while True:
        end = xml.find(b"</page>\n", at)
        if end < 0:
            break
        end += len(b"</page>\n")
        pages.append(xml[at:end])
        at = end
    return header, pages


def copy_of(page, k):
    """Copy k of a page: its own id (the first <id>, before the revision's) moved by k steps."""
    if k == 0:
        return page
    return PAGE_ID.sub(
        lambda m: m.group(1) + str(int(m.group(2)) + k * ID_STEP).encode() + m.group(3),
        page,
        count=1,
    )


def compress(data):
    return bz2.compress(data, 9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src")
    parser.add_argument("out")
    parser.add_argument("--min-mb", type=float, default=200)
    parser.add_argument("--pages-per-stream", type=int, default=100)
    args = parser.parse_args()

    header, pages = split_pages(read_xml(args.src))
    body = sum(len(p) for p in pages)
    copies = max(1, -(-int(args.min_mb * 1e6) // body))
    all_pages = [copy_of(p, k) for k in range(copies) for p in pages]
    n = args.pages_per_stream
    streams = [header]
    streams += [b"".join(all_pages[i : i + n]) for i in range(0, len(all_pages), n)]
    streams.append(b"</mediawiki>\n")
    with multiprocessing.Pool() as pool:
        packed = pool.map(compress, streams, chunksize=4)
    with open(args.out, "wb") as f:
        for p in packed:
            f.write(p)
    xml_bytes = sum(len(s) for s in streams)
    bz2_bytes = sum(len(p) for p in packed)
    print(
        f"{args.out}: {len(all_pages)} pages ({len(pages)} x {copies}), "
        f"{len(streams)} streams, {xml_bytes} bytes of XML, {bz2_bytes} bytes compressed"
    )


if __name__ == "__main__":
    main()
