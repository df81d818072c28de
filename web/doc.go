// Package web is rtpd's HTTP face: a page listing the files a server holds
// (name, size, hashes, rtp: URL with a copy button, gemini+rtp:// name),
// its live sessions and throughput, and the blobs themselves by hash, so
// curl, browsers and aria2 can fetch from rtpd too:
//
//	GET /                     the listing page (HTML; works without JavaScript)
//	GET /live.json            sessions, READs in flight, bytes served, throughput
//	GET /sha256/<hex>         the blob, with Range, ETag "<hex>" and
//	GET /blake3/<hex>         immutable caching; ?dn=NAME names the download
//
//	face := web.New(web.Config{Store: disk, Index: disk, Advertise: dials, Live: m.Live})
//	ln, _ := face.Listen(rtpurl.Dial{Proto: "tcp", Host: "0.0.0.0", Port: 8080}, nil)
//	go face.Serve(ln)
//	...
//	face.Shutdown(ctx)
//
// docs/http.md describes the face and the metrics of package web/metrics.
package web
