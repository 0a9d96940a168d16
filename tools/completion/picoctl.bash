# bash completion for picoctl(1): subcommands, options, and board ids and names from the
# running picod (`picoctl --json list` with a short timeout; nothing when picod is down).
# Installed as share/bash-completion/completions/picoctl (bash-completion loads it on the
# first `picoctl <Tab>`); needs nothing from bash-completion itself.

_picoctl_commands="status list led button sensor i2c watch history ping stats poll reboot
bootsel config metrics version doctor help"
_picoctl_global_opts="-s --socket -j --json -t --timeout -h --help -V --version --no-color"
_picoctl_events="button sensor board_online board_stale board_offline board_reset fault log"

# Board ids and names picod knows; the socket the command line names, if any.
_picoctl_boards()
{
    local prog=$1 sock=$2 out
    out=$("$prog" ${sock:+--socket "$sock"} --json --timeout 300 list 2>/dev/null) || return 0
    printf '%s\n' "$out" | grep -o '"\(board\|name\)":"[^"]*"' | cut -d'"' -f4
}

_picoctl()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i w cmd="" nargs=0 sock="" ended=""
    COMPREPLY=()

    # The subcommand, how many of its arguments come before the cursor, and --socket.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -z $ended ]]; then
            case $w in
            -s | --socket) sock=${COMP_WORDS[i + 1]}; ((i++)); continue ;;
            --socket=*) sock=${w#--socket=}; continue ;;
            -t | --timeout | -c | -i | --since | --board | --events | --count | --history | --points)
                ((i++)); continue ;;
            --) ended=1; continue ;;
            -*) continue ;;
            esac
        fi
        if [[ -z $cmd ]]; then cmd=$w; else ((nargs++)); fi
    done

    case $prev in
    -s | --socket) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
    -t | --timeout | -c | -i | --since | --count | --history | --points) return 0 ;;
    --board) mapfile -t COMPREPLY < <(compgen -W "$(_picoctl_boards "${COMP_WORDS[0]}" "$sock")" -- "$cur"); return 0 ;;
    --events) mapfile -t COMPREPLY < <(compgen -W "$_picoctl_events" -- "$cur"); return 0 ;;
    esac

    local words="" opts=""
    case $cmd in
    "") words=$_picoctl_commands ;;
    status) opts="--wide"; ((nargs == 0)) && words=board ;;
    sensor) opts="--history"; ((nargs == 0)) && words=board ;;
    watch) opts="--since --board --events --count" ;;
    ping) opts="-c -i"; ((nargs == 0)) && words=board ;;
    reboot) opts="--bootsel"; ((nargs == 0)) && words=board ;;
    led) ((nargs == 0)) && words=board; ((nargs == 1)) && words="on off toggle blink auto" ;;
    i2c) ((nargs == 0)) && words=board; ((nargs == 1)) && words="scan read write xfer" ;;
    poll) ((nargs == 0)) && words=board; ((nargs == 1)) && words="all" ;;
    history) opts="--since --points"; ((nargs == 0)) && words=board ;;
    button | bootsel | stats | doctor) ((nargs == 0)) && words=board ;;
    help) ((nargs == 0)) && words=$_picoctl_commands ;;
    esac
    if [[ $cur == -* && -z $ended ]]; then
        words="$opts $_picoctl_global_opts"
    elif [[ $words == board ]]; then
        words=$(_picoctl_boards "${COMP_WORDS[0]}" "$sock")
    fi
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
    return 0
}
complete -F _picoctl picoctl
