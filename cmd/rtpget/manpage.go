package main

// manExtra is the part of rtpget(1) that the flag definitions don't say.
const manExtra = `# DESCRIPTION

rtpget downloads from every server the URL lists at once and verifies
every byte against each urn the URL names before the file gets its name:
bytes go to NAME.part (with NAME.part.state beside it), which is renamed to
NAME only once verified. Run the same command again to resume.

rtpget replaces nothing that is not its own. A name from the URL's dn is
cleaned (base name only; no leading dot, control or bidi character). If
NAME exists and already has the URL's hashes, nothing is fetched and rtpget
exits 0; if it is another file, rtpget exits 1 unless --force. -o naming a
device or FIFO streams into it; a symbolic link is followed, never
replaced. NAME.part is locked: a second rtpget on the same name exits 1.

With -i FILE (or -i - for stdin), rtpget reads one rtp: URL or
gemini+rtp:// name a line, skipping blank lines and # comments, checks every
line first, then downloads -j at a time, each into the name it would get as
the only argument (the URL's dn, else the hash; inside -C DIR).

A URL with t=application/vnd.rtp.collection (rtpd url --tree, or a
Gemini folder name ending in /) is a folder tree: rtpget fetches its
manifest, then every file into the folder -o DIR (else the URL's dn),
each verified, identical contents fetched once, nothing written outside
the folder and no link in it followed. State, lock and partial downloads
live in DIR/.rtpget/. A rerun, or a newer tree's URL, fetches only missing
or changed files; --delete removes files the tree no longer lists;
--include and --exclude select part of it.

Most flags can also be set in the environment: RTPGET_ and the flag's name
in capitals with - as _ (RTPGET_INSECURE=true, RTPGET_DIR); rtpget --help
shows each.

# EXIT STATUS

**0** every file downloaded and verified, or already there; **1** a
download failed (its .part is kept for resuming), or the output name holds
another file (nothing replaced); **2** bad usage, a bad URL or a bad line of
the -i list (nothing is downloaded); **130** and **143** stopped by SIGINT
and SIGTERM (the .part is kept; a second Ctrl-C ends rtpget at once).

# EXAMPLES

    rtpget 'rtp:?u=urn:blake3:...&l=1048576&s=tcp!files.example.org!7777&dn=a.iso'
    rtpget -C isos -j 3 -i urls.txt
    rtpget gemini+rtp://files.example.org/isos/latest.iso
    rtpget -o llama --exclude '*.bin' gemini+rtp://files.example.org/models/llama/
    source <(rtpget --completion bash)

# SEE ALSO

rtpd(1); docs/protocol.md and docs/gemini.md in the source tree.`
