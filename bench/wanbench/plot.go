package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// plot draws, for the one- and three-server scenarios, each tool's median
// % of the link per cell, one panel per sender congestion control, into
// wan-SCENARIO.png (gnuplot, installed from the distribution if missing).
// A capped median is drawn at its upper bound.
func (r *report) plot(ctx context.Context, logf func(string, ...any)) error {
	var todo []string
	for _, sc := range []string{"one", "three"} {
		if len(r.byCellTool(sc)) > 0 {
			todo = append(todo, sc)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if _, err := exec.LookPath("gnuplot"); err != nil {
		if err := aptInstall(ctx, []string{"gnuplot-nox"}, logf); err != nil {
			return err
		}
	}
	for _, sc := range todo {
		script, err := r.gnuplotScript(sc)
		if err != nil {
			return err
		}
		path := filepath.Join(r.o.out, "plot-"+sc+".gp")
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			return err
		}
		if out, err := exec.CommandContext(ctx, "gnuplot", path).CombinedOutput(); err != nil {
			return fmt.Errorf("gnuplot %s: %v: %s", path, err, lastLines(string(out), 3))
		}
		logf("wrote %s", filepath.Join(r.o.out, "wan-"+sc+".png"))
	}
	return nil
}

// gnuplotScript writes one data file per congestion control (a row per
// cell: its label, then each tool's median %) and the script that plots
// them as clustered bars.
func (r *report) gnuplotScript(sc string) (string, error) {
	runs := r.byCellTool(sc)
	var ccs []string
	cellsBy := map[string][]*cell{}
	var tools []string
	for _, c := range r.cells {
		if c.Scenario != sc {
			continue
		}
		if cellsBy[c.CC] == nil {
			ccs = append(ccs, c.CC)
		}
		cellsBy[c.CC] = append(cellsBy[c.CC], c)
		tools = c.Tools
	}
	maxCells := 0
	for _, cc := range ccs {
		maxCells = max(maxCells, len(cellsBy[cc]))
	}
	var g strings.Builder
	fmt.Fprintf(&g, "set terminal pngcairo size %d,%d font 'sans,10'\nset output '%s'\n",
		max(900, 60*maxCells*len(tools)/3+200), 420*len(ccs), filepath.Join(r.o.out, "wan-"+sc+".png"))
	fmt.Fprintf(&g, "set multiplot layout %d,1\nset style data histogram\nset style histogram clustered gap 1\n", len(ccs))
	g.WriteString("set style fill solid 0.85 border -1\nset boxwidth 0.9\nset yrange [0:110]\nset grid ytics\n" +
		"set ylabel '% of link (median)'\nset bmargin 6\nset xtics rotate by -30 scale 0\nset key outside right top\n" +
		"set datafile missing 'NaN'\nset arrow 1 from graph 0, first 85 to graph 1, first 85 nohead dt 2 lc rgb '#555555'\n")
	colors := []string{"#d62728", "#ff7f0e", "#1f77b4", "#17becf", "#2ca02c"}
	for _, cc := range ccs {
		dat := filepath.Join(r.o.out, fmt.Sprintf("wan-%s-%s.dat", sc, cc))
		var d strings.Builder
		d.WriteString("# cell")
		for _, t := range tools {
			d.WriteString("\t" + t)
		}
		d.WriteString("\n")
		for _, c := range cellsBy[cc] {
			d.WriteString(`"` + strings.TrimSuffix(c.label(), " "+cc) + `"`)
			for _, t := range tools {
				if s := summarize(runs[[2]string{c.label(), t}]); s.n > 0 {
					fmt.Fprintf(&d, "\t%.1f", s.pct)
				} else {
					d.WriteString("\tNaN")
				}
			}
			d.WriteString("\n")
		}
		if err := os.WriteFile(dat, []byte(d.String()), 0o644); err != nil {
			return "", err
		}
		fmt.Fprintf(&g, "set title '%s, %s sender: median %% of link (capped runs at their bound; dashed: 85%%)'\nplot ",
			map[string]string{"one": "One server", "three": "Three servers"}[sc], cc)
		for i, t := range tools {
			if i > 0 {
				g.WriteString(", ")
			}
			xt := ""
			if i == 0 {
				xt = ":xtic(1)"
			}
			fmt.Fprintf(&g, "'%s' using %d%s title '%s' lc rgb '%s'", dat, i+2, xt, toolTitle(t), colors[i%len(colors)])
		}
		g.WriteString("\n")
	}
	g.WriteString("unset multiplot\n")
	return g.String(), nil
}
