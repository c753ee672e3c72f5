import {Args} from '@oclif/core'
import {MeshCommand} from '../base-command.ts'

const LOAD: Record<string, string> = {
  bash: 'source <(kubectl-mesh completion bash)        # e.g. in ~/.bashrc (needs bash-completion)',
  zsh: 'source <(kubectl-mesh completion zsh)         # e.g. in ~/.zshrc, after compinit',
  fish: 'kubectl-mesh completion fish | source         # e.g. in ~/.config/fish/config.fish',
  powershell: 'kubectl-mesh completion powershell | Out-String | Invoke-Expression   # e.g. in $PROFILE',
}

/** How to install, as comments above the script (so the output can be sourced as is). */
export function completionHeader(shell: string): string {
  return [
    `# kubectl-mesh completion for ${shell}: cobra's script, answered by \`kubectl-mesh __complete\`.`,
    `# Direct use of kubectl-mesh:  ${LOAD[shell]}`,
    '#',
    '# Through kubectl (`kubectl mesh <TAB>`, kubectl 1.26 or newer): kubectl runs kubectl_complete-mesh',
    '# from PATH; no script is needed beyond kubectl\'s own completion.',
    '#   npm install -g kubectl-mesh: kubectl_complete-mesh is already on PATH.',
    '#   krew or a release archive: kubectl_complete-mesh ships next to kubectl-mesh (krew does not link',
    '#   it yet, kubernetes-sigs/krew#812); put it on PATH, e.g.',
    '#     ln -s ~/.krew/store/mesh/*/kubectl_complete-mesh ~/.krew/bin/',
    '',
  ].join('\n')
}

export default class Completion extends MeshCommand {
  static summary = 'Print a shell completion script for kubectl-mesh, and how to complete `kubectl mesh` through kubectl.'
  static description = `Prints cobra's completion script for the shell, for those who run kubectl-mesh directly; it asks \`kubectl-mesh __complete\` for the candidates: subcommands, flags, contexts, namespaces and Services of the cluster, cluster IDs, files and enumerated values.
Through kubectl (\`kubectl mesh <TAB>\`) no script is needed: kubectl runs kubectl_complete-mesh from PATH (it ships with the npm package and in the release archives; the header of the script says how to put it on PATH).`
  static examples = [
    'source <(kubectl-mesh completion bash)',
    'kubectl-mesh completion fish | source',
  ]
  static args = {shell: Args.string({required: true, options: ['bash', 'zsh', 'fish', 'powershell'], description: 'The shell.'})}

  async run(): Promise<void> {
    const {args} = await this.parse(Completion)
    const {SHELL_SCRIPTS} = await import('../completion/shell-scripts.ts')
    process.stdout.write(completionHeader(args.shell) + SHELL_SCRIPTS[args.shell as keyof typeof SHELL_SCRIPTS])
  }
}
