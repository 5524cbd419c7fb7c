# Writes OUT (a header defining NEUREP_GIT_REVISION) from `git describe` of
# SOURCE_DIR, rewriting it only when the revision changed, so provenance in
# results files names the commit that was built, not the one configured.
# REVISION, when given (-DNEUREP_GIT_REVISION=... at configure time), is taken
# as is: a build from a copy without .git, e.g. in a container.
if(REVISION)
  set(rev ${REVISION})
else()
  execute_process(COMMAND git describe --always --dirty --abbrev=12
    WORKING_DIRECTORY ${SOURCE_DIR} OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(NOT rev)
  set(rev "unknown")
endif()
set(text "#define NEUREP_GIT_REVISION \"${rev}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
