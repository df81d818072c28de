package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// completeFlag, as the last argument, asks rtpget for the words that may
// follow the others: what the bash and zsh scripts call. It is urfave/cli's
// name for it, but rtpget answers it itself: urfave/cli v2.27.7 with short
// option handling panics on a partial flag such as --ou.
const completeFlag = "--generate-bash-completion"

// The bash and zsh scripts are urfave/cli's (autocomplete/ in its module,
// MIT licence) with the program name filled in: each asks
// `rtpget … --generate-bash-completion` for the flags that fit, and falls
// back to file names.
const bashCompletion = `# bash completion for rtpget: source it, or put it in
# /usr/share/bash-completion/completions/rtpget
_rtpget_complete() {
  local cur words cword
  COMPREPLY=()
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n "=:" || return
  else
    cur="${COMP_WORDS[COMP_CWORD]}"
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi
  words=("${words[@]:0:$cword}")
  local opts
  if [[ "$cur" == "-"* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -o nospace -F _rtpget_complete rtpget
`

const zshCompletion = `#compdef rtpget
# zsh completion for rtpget: put it in a folder of $fpath as _rtpget, or
# source it after compinit.
_rtpget() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _rtpget rtpget
`

// completion prints the completion script for shell to stdout.
func completion(c *cli.Context, shell string) error {
	switch shell {
	case "bash":
		fmt.Fprint(c.App.Writer, bashCompletion)
	case "zsh":
		fmt.Fprint(c.App.Writer, zshCompletion)
	case "fish":
		// Static: every flag with its usage, from the flag definitions.
		s, err := c.App.ToFishCompletion()
		if err != nil {
			return err
		}
		// Without this, fish offers the flags' names only after a '-'
		// and files otherwise, which is what rtpget takes.
		fmt.Fprint(c.App.Writer, strings.TrimLeft(s, "\n"))
	default:
		return cli.Exit(fmt.Sprintf("--%s %q: want bash, zsh or fish", flagComplete, shell), 2)
	}
	return nil
}

// complete answers a completion request (args ending in completeFlag): the
// flags that start with the word before it, the shells after --completion,
// else nothing, so that the shell offers file names. It reports whether
// args was such a request.
func complete(app *cli.App, args []string, w io.Writer) bool {
	n := len(args)
	if n == 0 || args[n-1] != completeFlag {
		return false
	}
	var word string
	if n >= 2 {
		word = args[n-2]
	}
	switch {
	case word == "--"+flagComplete:
		fmt.Fprintln(w, "bash\nzsh\nfish")
	case strings.HasPrefix(word, "-"):
		flags := append(app.VisibleFlags(), cli.HelpFlag, cli.VersionFlag)
		for _, f := range flags {
			for _, name := range f.Names() {
				dash := "--"
				if len(name) == 1 {
					dash = "-"
				}
				if strings.HasPrefix(dash+name, word) && dash+name != word {
					fmt.Fprintln(w, dash+name)
				}
			}
		}
	}
	return true
}
