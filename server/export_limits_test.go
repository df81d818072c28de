package server

// SetInflightFullHook makes srv call fn each time one of its sessions has
// a READ wait because MaxInflight of its READs are in flight. Set it
// before srv serves.
func SetInflightFullHook(srv *Server, fn func()) { srv.inflightFull = fn }

// SetOpenWaitHook makes srv call fn each time one of its sessions stops
// reading because a request waits for the outcome of an OPEN under way. Set it
// before srv serves.
func SetOpenWaitHook(srv *Server, fn func()) { srv.openWait = fn }

// SetInputEndedHook makes srv call fn when one of its sessions stops
// reading requests, with the reason. Set it before srv serves.
func SetInputEndedHook(srv *Server, fn func(error)) { srv.inputEnded = fn }
