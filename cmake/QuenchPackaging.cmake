# The Debian package (cpack -G DEB, packaging/build-deb.sh): quench and quench-cli in /usr/bin,
# the desktop entry, the icon and the AppStream metadata; Depends computed by dpkg-shlibdeps from
# the libraries the binaries link (Debian's libtorch, Qt 6, QCustomPlot, SQLite, ...).
#
# A build with the CUDA kernels links libcudart.so from the CUDA toolkit, which no Debian package
# provides: it is shipped privately in /usr/lib/quench (NVIDIA lists the runtime as
# redistributable) and the binaries find it through their RUNPATH.
string(TIMESTAMP QUENCH_RELEASE_DATE "%Y-%m-%d" UTC)
if(QUENCH_GUI)
  configure_file(${PROJECT_SOURCE_DIR}/packaging/linux/dev.quench.Quench.metainfo.xml
                 ${PROJECT_BINARY_DIR}/packaging/dev.quench.Quench.metainfo.xml @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/dev.quench.Quench.metainfo.xml DESTINATION share/metainfo)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/linux/quench.desktop DESTINATION share/applications)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/linux/quench.svg DESTINATION share/icons/hicolor/scalable/apps)
endif()

if(QUENCH_WITH_CUDA)
  get_target_property(_cudart CUDA::cudart IMPORTED_LOCATION)
  if(NOT _cudart)
    get_target_property(_cudart CUDA::cudart LOCATION)
  endif()
  # The soname link and the file it names.
  file(REAL_PATH "${_cudart}" _cudart_real)
  get_filename_component(_cudart_dir "${_cudart_real}" DIRECTORY)
  file(GLOB _cudart_files "${_cudart_dir}/libcudart.so.[0-9]*")
  install(FILES ${_cudart_files} DESTINATION lib/quench)
  set(_rpath "$ORIGIN/../lib/quench")
  foreach(t quench quench-cli)
    if(TARGET ${t})
      set_target_properties(${t} PROPERTIES INSTALL_RPATH "${_rpath}")
    endif()
  endforeach()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${CMAKE_BINARY_DIR}/_CPack_Packages/Linux/DEB/quench-${PROJECT_VERSION}-Linux/usr/lib/quench")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME quench)
set(CPACK_PACKAGE_VENDOR "Quench")
set(CPACK_PACKAGE_CONTACT "Quench developers <quench@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "workbench for compressing neural networks")
# The long description (the synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY); CPack indents its lines.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Quench shows per-layer weight and activation statistics, applies quantization,\npruning and low-rank settings chosen per layer, evaluates the result, stores every\nrun in an experiment database and exports GGUF (llama.cpp) and compressed-tensors\n(vLLM) checkpoints. quench is the window, quench-cli the command line.")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# Without it libtorch uses its reference BLAS (matmuls ~100x slower); dpkg-shlibdeps cannot see
# it because libtorch loads BLAS through the libblas.so.3 alternative.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp")
set(CPACK_STRIP_FILES ON)
include(CPack)
