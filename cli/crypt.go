package cli

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/api"
)

func (a *App) stdin() io.Reader {
	if a.In != nil {
		return a.In
	}
	return os.Stdin
}

// stdioCmd is a command that sends stdin through an application's ring on
// the daemon and writes the answer to stdout (encrypt, decrypt, rewrap).
// The answer is zeroed once written: it may be plaintext.
func stdioCmd(a *App, use, short, long, appUsage string,
	call func(c *api.Client, ctx context.Context, o api.CryptOptions, in io.Reader) ([]byte, error)) (*cobra.Command, *api.CryptOptions) {
	o := &api.CryptOptions{}
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.App == "" {
				return Usagef("--app is required (a proxied application, see keyward status)")
			}
			out, err := call(a.Client(), cmd.Context(), *o, a.stdin())
			if err != nil {
				return err
			}
			defer clear(out)
			_, err = a.Out.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&o.App, "app", "", appUsage)
	return cmd, o
}

func newEncryptCmd(a *App) *cobra.Command {
	cmd, o := stdioCmd(a, "encrypt --app APP",
		"Encrypt stdin into one keyward token with the application's newest key",
		"Reads all of stdin and writes one ciphertext token (and a newline) to stdout, made with the newest\n"+
			"Active generation of the application's key ring, exactly as the proxy would protect a field.\n"+
			"--deterministic makes an AES-SIV token: equal inputs give equal tokens (searchable, but equal\n"+
			"values are visible as equal).\n\n  echo -n 123-45-6789 | keyward encrypt --app crm",
		"proxied application whose key ring encrypts", (*api.Client).Encrypt)
	cmd.Flags().BoolVar(&o.Deterministic, "deterministic", false, "deterministic (AES-SIV) token")
	return cmd
}

func newDecryptCmd(a *App) *cobra.Command {
	cmd, _ := stdioCmd(a, "decrypt --app APP",
		"Decrypt the keyward tokens read on stdin (admins, unless proxy.allow_user_decrypt)",
		"Reads stdin and writes to stdout: a single token becomes its plaintext; any other text (a JSON\n"+
			"record fetched from the cloud application, a form, a log line) comes back with every token in it\n"+
			"decrypted. If a token cannot be decrypted (its generation left the ring, it was altered, or it\n"+
			"belongs to another application) the command fails and says which, and writes nothing.\n\n"+
			"  curl -s https://crm.example.com/records/7 | keyward decrypt --app crm",
		"proxied application whose key ring decrypts", (*api.Client).Decrypt)
	return cmd
}

func newRewrapCmd(a *App) *cobra.Command {
	cmd, _ := stdioCmd(a, "rewrap --app APP",
		"Re-encrypt the keyward tokens read on stdin under the application's newest key (admins)",
		"Reads stdin and writes it to stdout with every token of the application that was made with an\n"+
			"older generation re-encrypted under the newest Active one, in the daemon: the plaintext never\n"+
			"leaves it. Deterministic tokens stay deterministic, JSON values stay JSON values, everything\n"+
			"else is copied as it is. Run it over what the cloud stores before an old generation leaves the\n"+
			"ring (keyward status shows which leaves next and whether it is still used). A token of another\n"+
			"application, of an unknown generation or altered fails the command, naming its position, and\n"+
			"nothing is written.\n\n"+
			"  curl -s https://crm.example.com/records/7 | keyward rewrap --app crm > record-7.json",
		"proxied application whose key ring re-encrypts", (*api.Client).Rewrap)
	return cmd
}
