#!/usr/bin/env python3
"""Write the first ```c block of a Markdown file to a .c file (so that the
README text in docs/readme-consuming.md is compiled and run as a test)."""
import re
import sys

text = open(sys.argv[1], encoding='utf-8').read()
blocks = re.findall(r'```c\n(.*?)```', text, re.S)
if not blocks:
    sys.exit('no ```c block in ' + sys.argv[1])
open(sys.argv[2], 'w', encoding='utf-8').write(blocks[0])
