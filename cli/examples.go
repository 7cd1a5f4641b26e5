package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Example of every command's --help, by the command's
// path below keyward (the root is ""). They are kept in one table so the
// names in them (the vault source "vault", the KMIP source "kms-prod", the
// application "crm") agree with each other and with the README; a test
// fails on a command that has none.
var examples = map[string]string{
	"schedule": `keyward schedule list
keyward schedule run weekly-expiring-rotation --dry-run`,
	"schedule list": `keyward schedule list
keyward schedule list --json | jq -r '.schedules[] | select(.health == "degraded") | .name'`,
	"schedule show": `keyward schedule show weekly-expiring-rotation
keyward schedule show nightly-backup --run 42 --json | jq '.steps[] | select(.status == "failed")'`,
	"schedule add": `keyward schedule add weekly-expiring-rotation --kind rotate --every "weekly mon 02:00" --zone Europe/Paris --aging expiring-30d --jitter 30m
keyward schedule add nightly-backup --kind backup --cron "30 1 * * *" --source vault --keep 14
keyward schedule add crm-rotation --kind rotate --every "monthly 1 03:00" --source kms-prod --pattern "acme.crm.key.*"
keyward schedule add morning-sync --kind sync --every "daily 07:00" --source vault,kms-prod
keyward schedule add aging-csv --kind report --report aging --dir /var/lib/keyward/reports --every "weekly fri 18:00" --keep 12`,
	"schedule edit": `keyward schedule edit nightly-backup --keep 30
keyward schedule edit weekly-expiring-rotation --every "weekly tue 02:00" --zone America/New_York`,
	"schedule pause":  `keyward schedule pause nightly-backup`,
	"schedule resume": `keyward schedule resume nightly-backup`,
	"schedule rm":     `keyward schedule rm morning-sync`,
	"schedule run": `keyward schedule run weekly-expiring-rotation --dry-run
keyward schedule run nightly-backup --wait
keyward schedule run crm-rotation --dry-run --json | jq -r '.steps[] | select(.status == "pending") | .target'`,
	"": `keyward                      # the TUI
keyward demo                 # first time: everything locally, with sample keys`,
	"tui": `keyward tui
keyward tui --read-only --export-dir ~/audit`,
	"daemon": `keyward daemon --config /etc/keyward/keyward.toml
KEYWARD_CONFIG=./keyward.toml keyward daemon`,
	"demo": `keyward demo
keyward demo --headless      # no TUI; use the CLI from another terminal`,
	"status": `keyward status
keyward status --json | jq '.sources[] | select(.health != "ok")'`,
	"version": `keyward version`,
	"audit": `keyward audit verify
keyward audit export --from 2026-10-01 --to 2026-11-01 --out october.tar`,
	"audit verify": `keyward audit verify
keyward audit verify --key /media/offsite/keyward-audit.pub --from-checkpoint /mnt/remote/keyward-checkpoints
keyward audit verify --bundle october.tar --key keyward-audit.pub`,
	"audit export": `keyward audit export --from 2026-10-01 --to 2026-11-01 --out october.tar
keyward audit export --from -90d --out last-quarter.tar`,
	"keys": `keyward keys list --aging expiring-30d
keyward keys show kms-prod/acme.crm.key.4`,
	"keys list": `keyward keys list
keyward keys list --source kms-prod --state active --sort -expires --limit 20
keyward keys list --aging rotation-overdue --format csv > overdue.csv
keyward keys list --format ndjson | jq -r 'select(.application == "crm") | .id'`,
	"keys show": `keyward keys show kms-prod/acme.crm.key.4
keyward keys show vault/acme-payments-card-kek --json | jq .activity`,
	"report": `keyward report aging --from -30d --to +90d
keyward report activity --comparison --format csv > outside-keyward.csv
keyward report usage --app crm`,
	"report aging": `keyward report aging
keyward report aging --from today --to +30d --source kms-prod
keyward report aging --from 2026-01-01 --to 2027-01-01 --format csv > aging-2026.csv`,
	"report activity": `keyward report activity
keyward report activity --key kms-prod/acme.crm.key.4 --from -1y
keyward report activity --comparison --origin source --format json`,
	"report usage": `keyward report usage
keyward report usage --app crm --from -90d --format csv > crm-usage.csv`,
	"encrypt": `echo -n '4111 1111 1111 1111' | keyward encrypt --app crm
echo -n 'ann@example.com' | keyward encrypt --app crm --deterministic`,
	"decrypt": `curl -s https://crm.example.com/records/r1 | keyward decrypt --app crm`,
	"rewrap":  `keyward rewrap --app crm < export.json > export-rewrapped.json`,
	"sync": `keyward sync
keyward sync --source vault --timeout 5m`,
	"key": `keyward key create vault acme-payments-card-kek --type RSA --size 3072 --expires 365d
keyward key rotate vault acme-payments-card-kek`,
	"key create": `keyward key create vault acme-payments-card-kek --type RSA --size 3072 --expires 365d
keyward key create vault acme-signing --type EC --curve P-384 --tag owner=payments --disabled
keyward key create aws-prod orders-kek --type oct   # AWS: the name becomes the alias alias/orders-kek
keyward key create gcp-prod europe-west1/payments/card-kek --type oct   # Google: location/ring/key, as keys list shows it`,
	"key upload": `keyward key upload vault acme-byok --type RSA --size 4096
keyward key upload vault crm-kek --from-source kms-prod --from-app crm
keyward key upload aws-prod invoice-signing --from-file signing.pem --tag aws:usage=SIGN_VERIFY   # mode 0600`,
	"key rotate": `keyward key rotate vault acme-payments-card-kek
keyward key rotate vault/acme-payments-card-kek --json`,
	"key recover": `keyward key recover vault acme-payments-card-kek
keyward key recover gcp-prod europe-west1/payments/card-kek --version 3   # restore one version scheduled for destruction`,
	"key update": `keyward key update vault acme-payments-card-kek --expires 2027-12-31 --tag owner=payments
keyward key update vault acme-payments-card-kek --version 3f2a... --disable`,
	"key delete": `keyward key delete vault acme-payments-card-kek
keyward key delete vault acme-payments-card-kek --confirm acme-payments-card-kek
keyward key delete gcp-prod europe-west1/payments/card-kek --version 2   # schedule one version's destruction`,
	"key purge":  `keyward key purge vault acme-payments-card-kek`,
	"key backup": `keyward key backup vault acme-payments-card-kek`,
	"key rotate-app": `keyward key rotate-app acme-kms crm
  keyward key rotate-app acme-kms/crm --json`,
	"key backups": `keyward key backups
keyward key backups --json | jq -r '.[].id'`,
	"key restore": `keyward key restore BACKUP-ID                  # the id from keyward key backups
keyward key restore BACKUP-ID --to vault-westeu`,
	"key delete-backup": `keyward key delete-backup BACKUP-ID`,
	"key make-primary":  `keyward key make-primary gcp-prod europe-west1/payments/card-kek --version 3`,
	"key delete-material": `keyward key delete-material aws-prod crm-byok          # asks for the name again
keyward key delete-material aws-prod 1234abcd-12ab-34cd-56ef-1234567890ab --confirm 1234abcd-12ab-34cd-56ef-1234567890ab
keyward key restore BACKUP-ID                               # imports the same material again`,
	"key policy": `keyward key policy vault acme-payments-card-kek
keyward key policy vault acme-payments-card-kek --rotate-after 90d --expire-after 1y --notify-before 30d`,
	"cert": `keyward cert show --source kms-prod
keyward cert csr --source kms-prod --cn keyward.acme.example --out keyward.csr`,
	"cert show": `keyward cert show --source kms-prod
keyward cert show --source kms-prod --json`,
	"cert csr": `keyward cert csr --source kms-prod --cn keyward.acme.example --o "ACME Corp" --out keyward.csr
keyward cert csr --source kms-prod --cn keyward.acme.example --rsa --force`,
	"cert install": `keyward cert install --source kms-prod --cert keyward.pem --ca acme-root.pem`,
	"cert import": `keyward cert import --source kms-prod keyward.p12
keyward cert import --source kms-prod keystore.jks --alias keyward --password-file store.pass`,
	"dev":      `keyward dev seed --keys 100000 --events 1000000 --data-dir /tmp/kw-scale`,
	"dev seed": `keyward dev seed --keys 100000 --events 1000000 --data-dir /tmp/kw-scale`,
	"help":     `keyward help keys list`,
	"completion": `source <(keyward completion bash)
keyward completion zsh > "${fpath[1]}/_keyward"
keyward completion fish > ~/.config/fish/completions/keyward.fish`,
	"completion bash":       `source <(keyward completion bash)`,
	"completion zsh":        `keyward completion zsh > "${fpath[1]}/_keyward"`,
	"completion fish":       `keyward completion fish > ~/.config/fish/completions/keyward.fish`,
	"completion powershell": `keyward completion powershell | Out-String | Invoke-Expression`,
}

// addExamples sets the examples of the tree, cobra's own help and
// completion commands included (made here rather than at Execute).
func addExamples(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if ex, ok := examples[commandPath(cmd)]; ok && cmd.Example == "" {
			cmd.Example = indent(ex)
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

// commandPath is a command's path below the root: "keys list".
func commandPath(cmd *cobra.Command) string {
	return strings.TrimPrefix(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()), " ")
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
