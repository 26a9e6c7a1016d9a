//go:build !purego

#include "textflag.h"

// FLAGS gathers the flags of the block in Y4 and Y5: the OR of its bytes
// into Y2, their unsigned minimum into Y3.
#define FLAGS \
	VPOR	Y4, Y2, Y2; \
	VPOR	Y5, Y2, Y2; \
	VPMINUB	Y4, Y3, Y3; \
	VPMINUB	Y5, Y3, Y3

// LINEFEEDS sets AX to the line feed mask of the block in Y4 and Y5, bit j
// for byte j (Y1 holds '\n' in every byte).
#define LINEFEEDS \
	VPCMPEQB	Y1, Y4, Y6; \
	VPCMPEQB	Y1, Y5, Y7; \
	VPMOVMSKB	Y6, AX; \
	VPMOVMSKB	Y7, BX; \
	SHLQ	$32, BX; \
	ORQ	BX, AX

// func scanAVX2(b []byte, nl *[mapWords + 1]uint64) (n int, flags uint64)
//
// len(b) >= 64. Three parts: the blocks of 64 bytes whose line feed masks
// are stored (at most mapWords), the blocks past them, whose flags only
// are gathered, and a last, partial block, read as the 64 bytes that end
// b, whose first bytes (read already) are shifted out of its mask. Per 32
// bytes, the flags take an OR (whose top bits flag bytes of 0x80 or more)
// and an unsigned minimum (zero if a byte was NUL).
TEXT ·scanAVX2(SB), NOSPLIT, $0-48
	MOVQ	b_base+0(FP), SI
	MOVQ	b_len+8(FP), R8
	MOVQ	nl+24(FP), DI
	MOVQ	$0x0a, AX
	MOVQ	AX, X1
	VPBROADCASTB	X1, Y1 // '\n' in every byte
	VPXOR	Y2, Y2, Y2     // the OR of every byte
	VPCMPEQB	Y3, Y3, Y3 // the minimum of every byte, from 0xff
	MOVQ	R8, CX
	SHRQ	$6, CX         // blocks
	MOVQ	CX, DX
	CMPQ	DX, $16        // mapWords
	JLE	words
	MOVQ	$16, DX

words:
	MOVQ	DX, R9
	SHLQ	$6, R9         // n: the bytes mapped so far
	MOVQ	DX, R10        // the words stored
	SUBQ	DX, CX         // the blocks past them
	LEAQ	-64(SI)(R8*1), R11 // the last block's start

mapped:
	VMOVDQU	(SI), Y4
	VMOVDQU	32(SI), Y5
	LINEFEEDS
	MOVQ	AX, (DI)
	FLAGS
	ADDQ	$8, DI
	ADDQ	$64, SI
	DECQ	DX
	JNZ	mapped

	TESTQ	CX, CX
	JZ	last

unmapped:
	VMOVDQU	(SI), Y4
	VMOVDQU	32(SI), Y5
	FLAGS
	ADDQ	$64, SI
	DECQ	CX
	JNZ	unmapped

last:
	MOVQ	R8, CX
	ANDQ	$63, CX        // the last block's new bytes
	JZ	done
	VMOVDQU	(R11), Y4
	VMOVDQU	32(R11), Y5
	FLAGS
	CMPQ	R10, $16
	JGE	done           // past the mapped words
	LINEFEEDS
	NEGQ	CX
	ADDQ	$64, CX
	SHRQ	CX, AX
	MOVQ	AX, (DI)
	MOVQ	R8, R9

done:
	VPMOVMSKB	Y2, AX // bytes of 0x80 or more
	VPXOR	Y4, Y4, Y4
	VPCMPEQB	Y4, Y3, Y3
	VPMOVMSKB	Y3, BX // NUL bytes
	VZEROUPPER
	XORQ	CX, CX
	TESTL	AX, AX
	SETNE	CL
	XORQ	DX, DX
	TESTL	BX, BX
	SETNE	DL
	LEAQ	(CX)(DX*2), AX
	MOVQ	R9, n+32(FP)
	MOVQ	AX, flags+40(FP)
	RET
