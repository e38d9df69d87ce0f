# install-extras.cmake - the install-time part of `make install` (run by
# cmake --install through install(SCRIPT)): the files whose contents or
# place depend on the prefix given at install time (cmake --install
# --prefix P), not at configure time: the systemd unit (ExecStart names
# the installed binary, EnvironmentFile the environment file) and the
# environment file itself (in /etc for the prefix /usr, else PREFIX/etc).
# DESTDIR is honoured by file(INSTALL).
# In: LOGIFY_SOURCE_DIR, LOGIFY_BINARY_DIR (set by install(CODE) before).
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(sysconfdir "/etc")
else()
  set(sysconfdir "${prefix}/etc")
endif()
set(LOGIFY_BIN "${prefix}/bin/logify")
# a staging directory of this install's own (two installs at once, to
# different places, must not share one)
string(MD5 tag "$ENV{DESTDIR}|${prefix}")
set(stage "${LOGIFY_BINARY_DIR}/packaging/${tag}")
set(LOGIFY_ENV_FILE "${sysconfdir}/default/logify")
configure_file("${LOGIFY_SOURCE_DIR}/packaging/logify.service.in"
               "${stage}/logify.service" @ONLY)
file(INSTALL "${stage}/logify.service"
     DESTINATION "${prefix}/lib/systemd/system")
configure_file("${LOGIFY_SOURCE_DIR}/packaging/logify.default"
               "${stage}/logify" COPYONLY)
file(INSTALL "${stage}/logify" DESTINATION "${sysconfdir}/default")
