package cli

import (
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

func newEncryptCmd(a *App) *cobra.Command {
	var o api.CryptOptions
	cmd := &cobra.Command{
		Use:   "encrypt --app APP",
		Short: "Encrypt stdin into one keyward token with the application's newest key",
		Long: "Reads all of stdin and writes one ciphertext token (and a newline) to stdout, made with the newest\n" +
			"Active generation of the application's key ring, exactly as the proxy would protect a field.\n" +
			"--deterministic makes an AES-SIV token: equal inputs give equal tokens (searchable, but equal\n" +
			"values are visible as equal).\n\n  echo -n 123-45-6789 | keyward encrypt --app crm",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.App == "" {
				return Usagef("--app is required (a proxied application, see keyward status)")
			}
			out, err := a.Client().Encrypt(cmd.Context(), o, a.stdin())
			if err != nil {
				return err
			}
			_, err = a.Out.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&o.App, "app", "", "proxied application whose key ring encrypts")
	cmd.Flags().BoolVar(&o.Deterministic, "deterministic", false, "deterministic (AES-SIV) token")
	return cmd
}

func newDecryptCmd(a *App) *cobra.Command {
	var o api.CryptOptions
	cmd := &cobra.Command{
		Use:   "decrypt --app APP",
		Short: "Decrypt the keyward tokens read on stdin (admins, unless proxy.allow_user_decrypt)",
		Long: "Reads stdin and writes to stdout: a single token becomes its plaintext; any other text (a JSON\n" +
			"record fetched from the cloud application, a form, a log line) comes back with every token in it\n" +
			"decrypted. If a token cannot be decrypted (its generation left the ring, it was altered, or it\n" +
			"belongs to another application) the command fails and says which, and writes nothing.\n\n" +
			"  curl -s https://crm.example.com/records/7 | keyward decrypt --app crm",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.App == "" {
				return Usagef("--app is required (a proxied application, see keyward status)")
			}
			out, err := a.Client().Decrypt(cmd.Context(), o, a.stdin())
			if err != nil {
				return err
			}
			defer clear(out)
			_, err = a.Out.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&o.App, "app", "", "proxied application whose key ring decrypts")
	return cmd
}

func newRewrapCmd(a *App) *cobra.Command {
	var o api.CryptOptions
	cmd := &cobra.Command{
		Use:   "rewrap --app APP",
		Short: "Re-encrypt the keyward tokens read on stdin under the application's newest key (admins)",
		Long: "Reads stdin and writes it to stdout with every token of the application that was made with an\n" +
			"older generation re-encrypted under the newest Active one, in the daemon: the plaintext never\n" +
			"leaves it. Deterministic tokens stay deterministic, JSON values stay JSON values, everything\n" +
			"else is copied as it is. Run it over what the cloud stores before an old generation leaves the\n" +
			"ring (keyward status shows which leaves next and whether it is still used). A token of another\n" +
			"application, of an unknown generation or altered fails the command, naming its position, and\n" +
			"nothing is written.\n\n" +
			"  curl -s https://crm.example.com/records/7 | keyward rewrap --app crm > record-7.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.App == "" {
				return Usagef("--app is required (a proxied application, see keyward status)")
			}
			out, err := a.Client().Rewrap(cmd.Context(), o, a.stdin())
			if err != nil {
				return err
			}
			_, err = a.Out.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&o.App, "app", "", "proxied application whose key ring re-encrypts")
	return cmd
}
