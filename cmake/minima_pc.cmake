# Run by `cmake --install` (CMakeLists.txt sets MINIMA_PC_IN, MINIMA_PC_OUT,
# MINIMA_INSTALL_LIBDIR, MINIMA_INSTALL_INCLUDEDIR, PROJECT_VERSION first):
# writes minima.pc for the prefix being installed to, so that
# `cmake --install --prefix DIR` gets a pkg-config file that points at DIR,
# and installs it under LIBDIR/pkgconfig (DESTDIR honoured).
set(MINIMA_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${MINIMA_INSTALL_${dir}}")
    set(MINIMA_PC_${dir} "${MINIMA_INSTALL_${dir}}")
  else()
    set(MINIMA_PC_${dir} "\${prefix}/${MINIMA_INSTALL_${dir}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${MINIMA_INSTALL_LIBDIR}")
  set(pcdir "${MINIMA_INSTALL_LIBDIR}/pkgconfig")
else()
  set(pcdir "${CMAKE_INSTALL_PREFIX}/${MINIMA_INSTALL_LIBDIR}/pkgconfig")
endif()
configure_file("${MINIMA_PC_IN}" "${MINIMA_PC_OUT}" @ONLY)
file(INSTALL DESTINATION "${pcdir}" TYPE FILE FILES "${MINIMA_PC_OUT}")
