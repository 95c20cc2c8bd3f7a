#!/bin/sh
echo "/* placeholder */" > "$1"
