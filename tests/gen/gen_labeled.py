#!/usr/bin/env python3
"""gen_labeled.py - a labelled CSV (source, log_message, target_label) for
the tests of train / eval / progress: N_LABELS labels, ROWS rows, messages
made of words that tell the labels apart (plus noise words and numbers),
so a hash model learns most of them and confuses some. Deterministic for
a seed. With --hostile, some label names carry XML / HTML specials.

usage: gen_labeled.py N_LABELS ROWS SEED [--hostile] > data.csv
Standard library only.
"""
import csv
import random
import sys


def label_name(i, hostile):
    if hostile and i % 10 == 3:
        return 'Label <b>%d</b> & "q" \'s' % i
    if hostile and i % 10 == 7:
        return "</script><script>alert(%d)</script>" % i
    return "Label %03d" % i


def main(argv):
    n_labels, rows, seed = int(argv[0]), int(argv[1]), int(argv[2])
    hostile = "--hostile" in argv[3:]
    rnd = random.Random(seed)
    # each label: 3 words of its own, and 2 shared with its neighbour (confusions)
    own = [["w%dx%d" % (i, k) for k in range(3)] for i in range(n_labels)]
    shared = [["s%dx%d" % (i // 2, k) for k in range(2)] for i in range(n_labels)]
    noise = ["user", "request", "service", "node", "job", "disk", "queue", "retry"]
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["source", "log_message", "target_label"])
    for r in range(rows):
        i = r % n_labels if r < n_labels else rnd.randrange(n_labels)
        words = rnd.sample(own[i], 1 + rnd.randrange(2)) + shared[i] + rnd.sample(noise, 3)
        words.append(str(rnd.randrange(100000)))
        rnd.shuffle(words)
        w.writerow(["ModernCRM", " ".join(words), label_name(i, hostile)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
