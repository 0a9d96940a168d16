# Installing picod's system integration so that any prefix gives a working install.
#
# The files in systemd/ name a distribution's paths (prefix /usr): /usr/sbin/picod,
# /etc/picod/picod.conf, /usr/share/doc/picod. picod_install_unit() installs a unit with those
# replaced by this install's real paths, and the udev rule, sysusers.d/tmpfiles.d entries and
# bash completion go where udev, systemd and bash-completion read them for the prefix.
#
# Everything is decided when installing, not when configuring: `cmake --install B --prefix P`
# changes CMAKE_INSTALL_PREFIX only then, and a unit generated at configure time would name
# the configured prefix's binary. This file is included at configure time (for the functions)
# and again by the install script (PICOD_INSTALL_TIME set, for the helpers below).
#
# Where the readers look (systemd 252, Debian 12):
#   units       /etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system,
#               /usr/lib/systemd/system (and /lib/systemd/system): systemd.unit(5), and
#               `pkg-config --variable=systemd_system_unit_path systemd`
#   udev rules  /etc/udev/rules.d, /run/udev/rules.d, /usr/local/lib/udev/rules.d,
#               /usr/lib/udev/rules.d (and /lib on a split /usr): CONF_PATHS("udev/rules.d")
#               in systemd's src/basic/constants.h, used by src/udev/udev-rules.c
#   sysusers.d, tmpfiles.d   the same CONF_PATHS cascade
#   completion  $XDG_DATA_DIRS (default /usr/local/share:/usr/share)/bash-completion/completions
#               (bash-completion's __load_completion), and /etc/bash_completion.d (eager)
# So for prefix /usr and /usr/local each file goes under the prefix (PREFIX/lib/..., and
# PREFIX/share/bash-completion); for any other prefix (say /opt/picod) nothing under it is
# read, and the file goes to the local administrator's directory in /etc instead.
# Each directory can be set explicitly (cache variables below; relative = under the prefix).

if(NOT PICOD_INSTALL_TIME)
    include(GNUInstallDirs)
    set(PICOD_UNITDIR "" CACHE STRING
        "systemd system unit directory (empty: where systemd reads units for the prefix)")
    set(PICOD_UDEV_RULESDIR "" CACHE STRING
        "udev rules directory (empty: where udev reads rules for the prefix)")
    set(PICOD_SYSUSERSDIR "" CACHE STRING "sysusers.d directory (empty: for the prefix)")
    set(PICOD_TMPFILESDIR "" CACHE STRING "tmpfiles.d directory (empty: for the prefix)")
    set(PICOD_COMPLETIONSDIR "" CACHE STRING
        "bash completion directory (empty: where bash-completion reads it for the prefix)")
    set(PICOD_INSTALL_HELPER ${CMAKE_CURRENT_LIST_FILE})

    # The install script's preamble: the relative GNUInstallDirs and the cache settings.
    # (the install script runs with no policies set: the project's, for the helpers' lists)
    set(_picod_install_vars "cmake_policy(VERSION 3.25)\nset(PICOD_INSTALL_TIME ON)\n")
    foreach(v SBINDIR BINDIR SYSCONFDIR DATADIR DOCDIR MANDIR)
        string(APPEND _picod_install_vars "set(PICOD_REL_${v} \"${CMAKE_INSTALL_${v}}\")\n")
    endforeach()
    foreach(v UNITDIR UDEV_RULESDIR SYSUSERSDIR TMPFILESDIR COMPLETIONSDIR)
        string(APPEND _picod_install_vars "set(PICOD_SET_${v} \"${PICOD_${v}}\")\n")
    endforeach()
    string(APPEND _picod_install_vars "include(\"${CMAKE_CURRENT_LIST_FILE}\")\n")
    set_property(GLOBAL PROPERTY PICOD_INSTALL_PREAMBLE "${_picod_install_vars}")

    # picod_install_unit(FILE): install the systemd unit FILE (written for prefix /usr) with
    # this install's paths. For every unit of the project (picod.service, picod-mqtt.service).
    function(picod_install_unit src)
        get_filename_component(name ${src} NAME)
        get_filename_component(src ${src} ABSOLUTE)
        get_property(pre GLOBAL PROPERTY PICOD_INSTALL_PREAMBLE)
        install(CODE "${pre}picod_install_unit_now(\"${src}\" \"${name}\"
            \"${CMAKE_CURRENT_BINARY_DIR}\")")
        set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
    endfunction()

    # picod_install_system_file(FILE KIND NAME): install FILE as NAME into the directory for
    # KIND: udev (rules), sysusers, tmpfiles, completion.
    function(picod_install_system_file src kind name)
        get_filename_component(src ${src} ABSOLUTE)
        get_property(pre GLOBAL PROPERTY PICOD_INSTALL_PREAMBLE)
        install(CODE "${pre}picod_install_file_now(\"${src}\" ${kind} \"${name}\")")
    endfunction()

    # picod_install_config(EXAMPLE [NAME]): EXAMPLE as SYSCONFDIR/picod/NAME (default
    # picod.conf: the file the unit names), unless one is there already.
    function(picod_install_config src)
        set(name picod.conf)
        if(ARGC GREATER 1)
            set(name ${ARGV1})
        endif()
        get_filename_component(src ${src} ABSOLUTE)
        get_property(pre GLOBAL PROPERTY PICOD_INSTALL_PREAMBLE)
        install(CODE "${pre}picod_install_config_now(\"${src}\" \"${name}\")")
    endfunction()
    return()
endif()

# ---- install time --------------------------------------------------------------------------

set(_p "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" _p "${_p}")

# GNUInstallDirs' absolute forms, for the prefix given now (its special cases for /etc).
function(_picod_full out rel)
    if(IS_ABSOLUTE "${rel}")
        set(${out} "${rel}" PARENT_SCOPE)
    else()
        set(${out} "${_p}/${rel}" PARENT_SCOPE)
    endif()
endfunction()
_picod_full(PICOD_FULL_SBINDIR "${PICOD_REL_SBINDIR}")
_picod_full(PICOD_FULL_BINDIR "${PICOD_REL_BINDIR}")
_picod_full(PICOD_FULL_DATADIR "${PICOD_REL_DATADIR}")
_picod_full(PICOD_FULL_DOCDIR "${PICOD_REL_DOCDIR}")
if(PICOD_REL_SYSCONFDIR STREQUAL "etc" AND _p STREQUAL "/usr")
    set(PICOD_FULL_SYSCONFDIR "/etc")
elseif(PICOD_REL_SYSCONFDIR STREQUAL "etc" AND _p MATCHES "^/opt/")
    set(PICOD_FULL_SYSCONFDIR "/etc${_p}")
else()
    _picod_full(PICOD_FULL_SYSCONFDIR "${PICOD_REL_SYSCONFDIR}")
endif()

# The directory for one kind of file: the explicit setting, else under a prefix the reader
# searches (/usr, /usr/local), else /etc's.
function(_picod_system_dir out kind)
    # kind: its directory under a prefix the reader searches; /etc's; the explicit setting
    set(systemd "lib/systemd/system" "/etc/systemd/system" "${PICOD_SET_UNITDIR}")
    set(udev "lib/udev/rules.d" "/etc/udev/rules.d" "${PICOD_SET_UDEV_RULESDIR}")
    set(sysusers "lib/sysusers.d" "/etc/sysusers.d" "${PICOD_SET_SYSUSERSDIR}")
    set(tmpfiles "lib/tmpfiles.d" "/etc/tmpfiles.d" "${PICOD_SET_TMPFILESDIR}")
    set(completion "share/bash-completion/completions" "/etc/bash_completion.d"
                   "${PICOD_SET_COMPLETIONSDIR}")
    list(GET ${kind} 0 under_prefix)
    list(GET ${kind} 1 in_etc)
    list(GET ${kind} 2 explicit)
    if(NOT explicit STREQUAL "")
        _picod_full(dir "${explicit}")
    elseif(_p STREQUAL "/usr" OR _p STREQUAL "/usr/local")
        set(dir "${_p}/${under_prefix}")
    else()
        set(dir "${in_etc}")
    endif()
    set(${out} "${dir}" PARENT_SCOPE)
endfunction()

function(picod_install_file_now src kind name)
    _picod_system_dir(dir ${kind})
    file(INSTALL DESTINATION "${dir}" TYPE FILE RENAME "${name}" FILES "${src}")
endfunction()

function(picod_install_unit_now src name gendir)
    file(READ "${src}" text)
    # Longest first; only paths of this project, never the system's (/bin/kill stays).
    string(REPLACE "/usr/share/doc/picod" "${PICOD_FULL_DOCDIR}" text "${text}")
    string(REPLACE "/usr/share/picod/" "${PICOD_FULL_DATADIR}/picod/" text "${text}")
    string(REPLACE "/usr/sbin/picod" "${PICOD_FULL_SBINDIR}/picod" text "${text}")
    string(REPLACE "/usr/bin/picod" "${PICOD_FULL_BINDIR}/picod" text "${text}")
    string(REPLACE "/etc/picod/" "${PICOD_FULL_SYSCONFDIR}/picod/" text "${text}")
    string(MD5 key "$ENV{DESTDIR}|${_p}") # installs into other roots may run at once
    set(out "${gendir}/picod-install/${key}/${name}")
    file(WRITE "${out}" "${text}")
    _picod_system_dir(dir systemd)
    file(INSTALL DESTINATION "${dir}" TYPE FILE FILES "${out}")
endfunction()

# The config file the unit names: the commented example, never over an existing one.
function(picod_install_config_now example name)
    set(conf "$ENV{DESTDIR}${PICOD_FULL_SYSCONFDIR}/picod/${name}")
    if(NOT EXISTS "${conf}")
        message(STATUS "Installing: ${conf}")
        file(MAKE_DIRECTORY "$ENV{DESTDIR}${PICOD_FULL_SYSCONFDIR}/picod")
        file(COPY_FILE "${example}" "${conf}")
    else()
        message(STATUS "Up-to-date (kept): ${conf}")
    endif()
endfunction()
