package main

import (
	"fmt"
	"path"
	"strings"
)

// treeFilter is --include and --exclude. A pattern without '/' is matched
// (path.Match) against the last component of a path, at any depth:
// "*.json". A pattern with '/' is matched against the whole relative path,
// component by component, where a component "**" matches any number of
// components, none included: "data/**/*.parquet", "docs/**"; a trailing
// '/' means everything under that folder ("docs/" is "docs/**"). A path is
// selected when it matches some --include (or none is given) and no
// --exclude.
type treeFilter struct {
	include, exclude [][]string
}

// newTreeFilter checks every pattern; a bad one is an error (exit 2).
func newTreeFilter(include, exclude []string) (*treeFilter, error) {
	f := &treeFilter{}
	for _, set := range []struct {
		flag string
		in   []string
		out  *[][]string
	}{{flagInclude, include, &f.include}, {flagExclude, exclude, &f.exclude}} {
		for _, p := range set.in {
			parts, err := splitPattern(p)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: %v", set.flag, p, err)
			}
			*set.out = append(*set.out, parts)
		}
	}
	return f, nil
}

func splitPattern(p string) ([]string, error) {
	if p == "" || strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("want a pattern relative to the tree")
	}
	folder := strings.HasSuffix(p, "/")
	parts := strings.Split(strings.TrimSuffix(p, "/"), "/")
	for _, c := range parts {
		if c == "**" {
			continue
		}
		if _, err := path.Match(c, ""); err != nil {
			return nil, err
		}
	}
	switch {
	case folder:
		// "docs/": everything under it.
		parts = append(parts, "**")
	case len(parts) == 1 && parts[0] != "**":
		// A base-name pattern: at any depth.
		parts = []string{"**", parts[0]}
	}
	return parts, nil
}

// selected reports whether the tree path p is to be fetched.
func (f *treeFilter) selected(p string) bool {
	if f == nil {
		return true
	}
	comps := strings.Split(p, "/")
	match := func(set [][]string) bool {
		for _, pat := range set {
			if matchParts(pat, comps) {
				return true
			}
		}
		return false
	}
	return (len(f.include) == 0 || match(f.include)) && !match(f.exclude)
}

// all reports whether the filter selects everything.
func (f *treeFilter) all() bool { return f == nil || len(f.include)+len(f.exclude) == 0 }

func matchParts(pat, comps []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(comps); i++ {
				if matchParts(pat[1:], comps[i:]) {
					return true
				}
			}
			return false
		}
		if len(comps) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], comps[0]); !ok {
			return false
		}
		pat, comps = pat[1:], comps[1:]
	}
	return len(comps) == 0
}
