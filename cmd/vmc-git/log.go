package main

import (
	"bytes"
	"encoding/json"

	"github.com/urfave/cli/v2"
)

func logCommand() *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "list receipts, newest first",
		Description: `EXAMPLE:
   vmc-git log -n 5
   vmc-git log --json | jq '.[] | select(.kind=="apply")'`,
		Flags: []cli.Flag{&cli.IntFlag{Name: "n", Value: 20, Usage: "how many (0: all)"}, jsonFlag},
		Action: func(c *cli.Context) error {
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			rows, err := ws.Log(c.Int("n"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, rows)
			}
			for _, x := range rows {
				outf(c, "%6d  %s  %-11s %-12s %s  %s%s\n", x.Seq, x.CreatedAt, x.Kind, x.KID, x.Blake3.String()[:12], x.Summary, anchoredText(x.Anchored))
			}
			return nil
		},
	}
}

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print receipt SEQ",
		ArgsUsage: "SEQ",
		Description: `Prints the receipt indented for reading; --raw prints the exact canonical bytes
(what is hashed and signed), --sig its signature.

EXAMPLE:
   vmc-git show 0
   vmc-git show 42 --raw | b3sum`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "raw", Usage: "the exact stored bytes"}, &cli.BoolFlag{Name: "sig", Usage: "print the signature instead"}},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "SEQ"); err != nil {
				return err
			}
			seq, ok := parseSeqArg(c.Args().First())
			if !ok {
				return usagef("show: SEQ must be a receipt number, got %q", c.Args().First())
			}
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			e, err := ws.Receipt(seq)
			if err != nil {
				return err
			}
			switch {
			case c.Bool("sig"):
				_, err = c.App.Writer.Write(e.Sig)
			case c.Bool("raw"):
				_, err = c.App.Writer.Write(e.Bytes)
			default:
				var out bytes.Buffer
				json.Indent(&out, e.Bytes, "", "  ")
				out.WriteByte('\n')
				_, err = c.App.Writer.Write(out.Bytes())
			}
			return err
		},
	}
}
