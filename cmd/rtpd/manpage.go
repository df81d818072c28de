package main

// manExtra is the part of rtpd(1) that the flag definitions don't say.
const manExtra = `# DESCRIPTION

rtpd serve DIR hashes every regular file below DIR once (sha256 and blake3
in one pass), keeps the result in a bbolt index (DIR/.rtpd/index.db, or
--index), and then serves every file by its urn:sha256: and urn:blake3:
hash over RTP/1 on each --listen dial string (tcp!, tls! or quic!host!port).
Files added, changed or removed are picked up every --rescan, and at once
on SIGHUP (which does not stop rtpd). Without
--tls-cert and --tls-key, TLS and QUIC use a self-signed certificate kept
beside the index; its SHA-256 fingerprint is logged, for rtpget --pin.

rtpd serve s3://BUCKET/PREFIX serves the objects below PREFIX of an
S3-compatible bucket the same way (--s3-endpoint, AWS credentials from the
environment, ~/.aws/credentials or --s3-access-key-id); the index is kept
in the user's cache folder unless --index says where. docs/scale.md in the
source tree has the details.

rtpd never serves the index folder of any rtpd (each marks its own with a
file named .rtpd-index), the --tls-cert and --tls-key files, nor a small
file holding a PEM private key; dot-files and dot-folders, partial
downloads (*.part, *.part.state, *.crdownload) and editor backups (*~, #*#)
only with --hidden. docs/hardening.md lists the rules.

Every flag of rtpd serve can also be set in the environment: RTPD_ and the
flag's name in capitals with - as _ (RTPD_LISTEN, RTPD_MAX_SESSIONS_PER_HOST;
rtpd serve --help shows each); a repeatable flag takes a comma-separated
list there. A flag given on the command line wins. contrib/rtpd.service and contrib/rtpd.env in the
source tree run rtpd under systemd that way.

rtpd serve --upstream DIAL --cache DIR --cache-size SIZE, with no folder,
serves an edge: a pull-through cache that fills a blob it lacks from its
upstreams (origins or other edges) the first time it is asked for, answers
READs of the bytes it has verified while the fill goes on, and evicts whole
blobs least recently used past --cache-size. docs/scale.md in the source
tree sets up a tier of edges.

rtpd url prints the rtp: URL of a file, naming the servers given with
--server; rtpd ls lists what a folder serves.

# EXIT STATUS

**0** the command done, or rtpd serve stopped by SIGTERM after a clean
shutdown; **1** a failure (the folder or index cannot be opened, a listener
cannot bind); **2** bad usage; **130** stopped by SIGINT (Ctrl-C) after a
clean shutdown, or any command but serve stopped by SIGTERM (**143**).

# EXAMPLES

    rtpd serve ./blobs
    rtpd serve --listen 'tcp!0.0.0.0!7777' --listen 'quic!0.0.0.0!7777' ./blobs
    rtpd serve --upstream 'tcp!origin.example!7777' --cache /var/cache/rtpd --cache-size 50G
    rtpd url --server 'tcp!files.example.org!7777' ./blobs/image.iso

# SEE ALSO

rtpget(1); docs/protocol.md, docs/hardening.md, docs/gemini.md and
docs/scale.md in the source tree.`
