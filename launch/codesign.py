"""Co-design launcher (placeholder until the co-design job lands)."""
import sys

if __name__ == "__main__":
  print("launch.codesign: not yet available (co-design job in progress)")
  sys.exit(0)
